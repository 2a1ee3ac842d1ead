// Journey: every page at a phone's width (390 px) without sideways page
// scroll (issue 33, "phone"): the navigation folds into a menu button, wide
// tables scroll inside their own frame. Screenshots at 390 px are kept.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, signInDemo, tenantDashboard, watch, shot } from "./harness.mjs";

const env = demoSuite();

/// What sticks out past the viewport: the outermost elements whose right
/// edge passes it (a table inside a scrolling frame does not).
function overflowing() {
  const width = document.documentElement.clientWidth;
  const out = [];
  const clipped = (el) => {
    for (let p = el.parentElement; p; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === "auto" || s.overflowX === "scroll" || s.overflowX === "hidden") return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1 || clipped(el)) continue;
    if (el.parentElement && el.parentElement.getBoundingClientRect().right > width + 1 && !clipped(el.parentElement)) continue;
    out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join(".")} right=${Math.round(r.right)}`);
  }
  return { scroll: document.documentElement.scrollWidth, width, out: out.slice(0, 8) };
}

test("every page fits a phone's width", async () => {
  const context = await env.browser.newContext({ viewport: { width: 390, height: 844 } });
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await page.goto(`${env.demo.url}/admin/tenants`);
  const tenant = await page.locator("a[href^='/admin/t/']").first().getAttribute("href");
  /// The first link on `path` matching `selector` (a run, a baseline), if the demo has one.
  const first = async (path, selector) => {
    await page.goto(`${env.demo.url}${path}`);
    const links = page.locator(selector);
    return (await links.count()) > 0 ? links.first().getAttribute("href") : null;
  };
  const run = await first("/admin/operations", "a[href^='/admin/operations/']");
  const baseline = await first("/admin/baselines", "a[href^='/admin/baselines/']:not([href$='/new'])");
  const pages = [
    "/admin",
    "/admin/tenants",
    "/admin/fleet",
    "/admin/baselines",
    "/admin/onboarding",
    "/admin/operations",
    "/admin/alerts",
    "/admin/alerts/rules",
    "/admin/schedules",
    "/admin/members",
    "/admin/audit",
    "/admin/retention",
    "/admin/notifications",
    "/admin/account",
    tenant,
    `${tenant}/connections`,
    `${tenant}/inventory`,
    `${tenant}/compliance`,
    `${tenant}/groups`,
    `${tenant}/changes`,
    `${tenant}/verification`,
    `${tenant}/roles`,
    `${tenant}/restore`,
    run,
    baseline,
  ].filter(Boolean);
  const wide = [];
  for (const path of pages) {
    await page.goto(`${env.demo.url}${path}`);
    const m = await page.evaluate(overflowing);
    if (m.scroll > m.width) wide.push(`${path}: ${m.scroll} px wide (${m.out.join(", ")})`);
    await shot(page, `phone${path.replaceAll("/", "-")}`);
  }
  console.log(wide.length ? `too wide at 390 px:\n  ${wide.join("\n  ")}` : "every page fits 390 px");
  assert.deepEqual(wide, []);

  // The navigation folds behind "Menu": it opens, leads somewhere, and Escape closes it.
  await page.goto(`${env.demo.url}/admin`);
  const nav = page.getByRole("navigation", { name: "Workspace" });
  const menu = page.getByRole("button", { name: "Menu" });
  assert.equal(await nav.isVisible(), false, "folded on a phone");
  await menu.click();
  await nav.getByRole("link", { name: "Tenants" }).click();
  await page.waitForURL(/\/admin\/tenants$/);
  await menu.focus();
  await page.keyboard.press("Enter");
  assert.equal(await nav.isVisible(), true, "the keyboard opens it");
  await shot(page, "phone-menu-open");
  await page.keyboard.press("Escape");
  assert.equal(await nav.isVisible(), false, "Escape closes it");
  assert.deepEqual(problems, []);

  // On a desktop the links are the bar and there is no menu button.
  await page.setViewportSize({ width: 1366, height: 900 });
  assert.equal(await nav.isVisible(), true);
  assert.equal(await menu.isVisible(), false);
  await shot(page, "desktop-tenants");
});

test("the keyboard reaches a tenant's Start in a few presses, and the answer after", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await tenantDashboard(page, env.demo.url, "Contoso Ltd");
  // From the top: the skip link first, then into the page.
  await page.evaluate(() => document.activeElement?.blur());
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");
  await page.keyboard.press("Enter");
  // The tenant page's own skip link comes next: to the Start buttons.
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to operations");
  await page.keyboard.press("Enter");
  let tabs = 2;
  const onStart = () =>
    page.evaluate(() => {
      const el = document.activeElement;
      return el?.tagName === "BUTTON" && /^Start\b/.test(el.getAttribute("aria-label") ?? el.textContent.trim());
    });
  while (!(await onStart()) && tabs < 40) {
    await page.keyboard.press("Tab");
    tabs += 1;
  }
  const name = await page.evaluate(() => document.activeElement?.getAttribute("aria-label") ?? document.activeElement?.textContent.trim());
  console.log(`keyboard to the first Start on a tenant page: ${tabs} Tab presses and 2 Enter (skip links) → "${name}"`);
  assert.ok(tabs <= 10, `${tabs} Tab presses to Start`);
  // Started from the keyboard, the focus moves to the answer (not back to the page).
  await page.keyboard.press("Enter");
  const toast = page.getByTestId("gate-toast").first();
  await toast.locator(".toast-title").first().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.testid), "gate-toast");
  await page.keyboard.press("Tab");
  assert.equal(
    await page.evaluate(() => Boolean(document.activeElement?.closest("[data-testid=gate-toast]"))),
    true,
    "the next Tab is inside the answer (its link to the run)",
  );
  assert.deepEqual(problems, []);
});
