// Journey: find anything from the keyboard (Ctrl-K palette), the search page
// without script, and the dark theme chosen in the user menu — with the
// accessibility checks on the open palette and on dark pages, and screenshots
// at 1366 and 390 px in both themes (kept in end2end/artifacts/).
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { checkAccessibility, demoSuite, hydrated, shot, signInDemo, startVerification, watch, withdrawAccessibilityFindings } from "./harness.mjs";

const env = demoSuite();

const focused = (page) =>
  page.evaluate(() => ({
    id: document.activeElement?.id ?? "",
    role: document.activeElement?.getAttribute("role") ?? "",
    text: document.activeElement?.textContent?.trim() ?? "",
  }));

test("Ctrl-K finds a tenant, a run and a page from the keyboard", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await hydrated(page);
  const palette = page.getByTestId("palette");
  const box = page.getByRole("combobox");

  // Ctrl-K opens it with the focus in the box; typing narrows; Enter opens the first.
  await page.keyboard.press("Control+k");
  await palette.waitFor({ state: "visible" });
  assert.equal((await focused(page)).role, "combobox");
  await page.keyboard.type("contso");
  const option = page.getByRole("option").first();
  await option.filter({ hasText: "Contoso Ltd" }).waitFor();
  assert.equal(await option.getAttribute("aria-selected"), "true");
  assert.equal(await box.getAttribute("aria-activedescendant"), await option.getAttribute("id"));
  await checkAccessibility(page, problems, "palette open");
  await shot(page, "palette-1366-light");
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/admin\/t\/\d+$/);
  const tenantUrl = page.url();
  await hydrated(page);

  // Reopened with nothing typed: the tenant just opened is the first recent one.
  await page.keyboard.press("Control+k");
  await palette.waitFor({ state: "visible" });
  await page.getByRole("group", { name: "Recent tenants" }).waitFor();
  assert.match(await page.getByRole("option").first().innerText(), /Contoso Ltd/);

  // Arrows move, Escape closes and gives the focus back.
  await page.keyboard.type("operat");
  await page.getByRole("option", { name: /Operations/ }).waitFor();
  const before = await page.getByRole("option").count();
  if (before > 1) {
    await page.keyboard.press("ArrowDown");
    assert.equal(await page.getByRole("option").nth(1).getAttribute("aria-selected"), "true");
    await page.keyboard.press("ArrowUp");
  }
  await page.keyboard.press("Escape");
  await palette.waitFor({ state: "hidden" });
  assert.notEqual((await focused(page)).role, "combobox", "the focus left the closed palette");

  // A run by its number (one started here).
  const { href: runHref } = await startVerification(page);
  const runNumber = runHref.split("/").pop();
  await page.getByRole("searchbox", { name: "Search Tenantry" }).click();
  await palette.waitFor({ state: "visible" });
  await page.keyboard.type(`#${runNumber}`);
  await page.getByRole("option", { name: new RegExp(`Run #${runNumber}`) }).waitFor();
  await page.keyboard.press("Enter");
  await page.waitForURL(new RegExp(`/admin/operations/${runNumber}$`));

  // "start inv…" offers the start, leading to the tenant's Start buttons.
  await hydrated(page);
  await page.keyboard.press("Control+k");
  await page.keyboard.type("start inventory contoso");
  await page.getByRole("option", { name: /Start inventory sync on Contoso Ltd/ }).waitFor();
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/admin\/t\/\d+#start-operations$/);
  assert.equal(page.url().replace(/#.*/, ""), tenantUrl);
  assert.deepEqual(problems, []);
});

test("the search page answers without script", async () => {
  const context = await env.browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(`${env.demo.url}/sign-in`);
  await page.getByLabel("Email").fill("demo@tenantry.local");
  await page.getByLabel("Password").fill("tenantry-demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/admin$/);
  const box = page.getByRole("searchbox", { name: "Search Tenantry" });
  await box.fill("contoso");
  await box.press("Enter");
  await page.waitForURL(/\/admin\/search\?q=contoso$/);
  await page.getByRole("link", { name: "Contoso Ltd" }).first().waitFor();
  await page.locator("#search-page-q").fill("nothing-is-called-this");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await page.getByText("No matches").waitFor();
});

test("the dark theme is chosen once and kept, and reads well", async () => {
  const context = await env.browser.newContext({ viewport: { width: 1366, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await page.goto(`${env.demo.url}/admin/operations`);
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme ?? "system");
  assert.equal(await theme(), "system");
  // The device's preference is followed until a choice is made.
  await page.emulateMedia({ colorScheme: "dark" });
  const background = () => page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
  const darkBackground = await background();
  await page.emulateMedia({ colorScheme: "light" });
  assert.notEqual(await background(), darkBackground, "prefers-color-scheme decides");

  // Chosen in the user menu: back on the same page, dark whatever the device says.
  await page.locator("summary", { hasText: "demo@tenantry.local" }).click();
  await page.getByTestId("theme-form").getByRole("button", { name: "Dark" }).click();
  await page.waitForURL(/\/admin\/operations$/);
  assert.equal(await theme(), "dark");
  assert.equal(await background(), darkBackground);
  await page.locator("summary", { hasText: "demo@tenantry.local" }).click();
  assert.equal(await page.getByTestId("theme-form").getByRole("button", { name: "Dark" }).getAttribute("aria-pressed"), "true");

  // Kept for this person in a new browser, and every page passes the checks in dark.
  const other = await env.browser.newContext({ viewport: { width: 1366, height: 900 } });
  const tab = await other.newPage();
  const tabProblems = watch(tab);
  await signInDemo(tab, env.demo.url);
  assert.equal(await tab.evaluate(() => document.documentElement.dataset.theme), "dark");
  await tab.goto(`${env.demo.url}/admin/tenants`);
  const tenant = await tab.locator("a[href^='/admin/t/']").first().getAttribute("href");
  for (const [path, name] of [
    ["/admin", "overview"],
    [tenant, "tenant"],
    ["/admin/operations", "operations"],
    ["/admin/fleet", "fleet"],
    ["/admin/alerts", "alerts"],
    [`${tenant}/changes`, "changes"],
    ["/admin/account", "account"],
  ]) {
    await tab.goto(`${env.demo.url}${path}`);
    await checkAccessibility(tab, tabProblems, "dark");
    await shot(tab, `${name}-1366-dark`);
    await tab.setViewportSize({ width: 390, height: 844 });
    await shot(tab, `${name}-390-dark`);
    await tab.setViewportSize({ width: 1366, height: 900 });
  }
  // And light again, with the same pages for comparison.
  await tab.locator("summary", { hasText: "demo@tenantry.local" }).click();
  await tab.getByTestId("theme-form").getByRole("button", { name: "Light" }).click();
  await tab.waitForURL(/\/admin\/account$/);
  assert.equal(await tab.evaluate(() => document.documentElement.dataset.theme), "light");
  for (const [path, name] of [
    ["/admin", "overview"],
    [tenant, "tenant"],
    ["/admin/operations", "operations"],
  ]) {
    await tab.goto(`${env.demo.url}${path}`);
    await shot(tab, `${name}-1366-light`);
    await tab.setViewportSize({ width: 390, height: 844 });
    await shot(tab, `${name}-390-light`);
    await tab.setViewportSize({ width: 1366, height: 900 });
  }
  assert.deepEqual([...problems, ...tabProblems], []);
});

test("the accessibility check sees a serious violation and would fail the file", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await signInDemo(page, env.demo.url);
  await hydrated(page);
  // Plant two: an image without a text alternative (critical) and a button
  // without a name (critical).
  await page.evaluate(() => {
    const img = document.createElement("img");
    img.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
    const button = document.createElement("button");
    button.type = "button";
    document.querySelector("main")?.append(img, button);
  });
  const problems = [];
  await checkAccessibility(page, problems, "planted violations");
  assert.ok(problems.some((p) => /critical image-alt/.test(p)), problems.join("\n"));
  assert.ok(problems.some((p) => /critical button-name/.test(p)), problems.join("\n"));
  // The file's gate holds them; this test planted them, so it takes them back.
  assert.equal(withdrawAccessibilityFindings(/\(planted violations\)/), problems.length);
  await context.close();
});
