// Live monitoring on `tenantry demo`, proven from the network: the run-detail
// island polls while the run is active and sends no poll after it ends; it
// pauses while the tab is hidden and while a dialog is open; the progress
// overlay shows a started run and drops it within one cycle after it ends.
// The simulator's "slow" fault keeps a verification running for a while.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo, tenantDashboard, startVerification as start } from "./harness.mjs";

const CONTOSO = "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c";

const env = demoSuite();

const contosoDashboard = (page) => tenantDashboard(page, env.demo.url, "Contoso Ltd");

/// Starts tenant verification from the dashboard; the toast's run link.
async function startVerification(page) {
  const { title, href } = await start(page);
  assert.equal(title, "Queued");
  return href;
}

/// Timestamps of the requests a page sends to one endpoint.
function record(page, path) {
  const at = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === path) at.push(Date.now());
  });
  return at;
}

const live = (page) => page.locator('[data-testid="live-status"]');

test("run detail polls while running, stops at the end; the overlay drops the run", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await env.demo.fault(CONTOSO, { kind: "slow", delay_ms: 5000 });
  await contosoDashboard(page);
  const overlayCalls = record(page, "/api/runs/active");
  const href = await startVerification(page);
  // The start wakes the overlay at once (no 10 s wait).
  const overlay = page.getByTestId("progress-overlay");
  await overlay.getByText("Tenant verification · Contoso Ltd").waitFor({ timeout: 5000 });
  assert.ok(overlayCalls.length >= 1, "the overlay asked for active runs after the start");
  // The dashboard's own numbers follow: one active operation, linking to the hub.
  await page.locator('[data-kpi="Active"][data-count="1"]').waitFor({ timeout: 5000 });
  await shot(page, "20-overlay-after-start");

  const polls = record(page, "/api/runs/poll");
  await page.goto(`${env.demo.url}${href}`);
  await hydrated(page);
  // One poll per page: from here on the run page's poll feeds the overlay.
  const active = record(page, "/api/runs/active");
  await page.getByTestId("progress-overlay").waitFor();
  await page.locator('[data-testid="live-status"][data-live="finished"]').waitFor({ timeout: 30000 });
  const endedAt = Date.now();
  assert.match(await page.getByTestId("run-status").innerText(), /Succeeded/);
  assert.ok(polls.length >= 3, `polled ${polls.length} times while the run was active`);
  // Young runs are polled about every second.
  const gaps = polls.slice(1).map((t, i) => t - polls[i]);
  assert.ok(gaps.every((g) => g >= 700 && g <= 3000), `poll gaps ${gaps}`);
  await shot(page, "21-run-finished-live");

  // No poll for 30 s after the end; the overlay drops the run the moment
  // the page sees it end, and never polled on its own on this page.
  const pollsAtEnd = polls.length;
  await page.getByTestId("progress-overlay").waitFor({ state: "detached", timeout: 2000 });
  const droppedAfter = Date.now() - endedAt;
  await page.waitForTimeout(Math.max(0, 30000 - (Date.now() - endedAt)));
  assert.equal(polls.length, pollsAtEnd, "no run poll after the run ended");
  assert.equal(active.length, 0, "the overlay left polling to the run page's one poll");
  assert.ok(droppedAfter <= 2000, `overlay dropped the run after ${droppedAfter} ms`);

  // The hub: filters are a plain GET form kept in the URL, with the matching count.
  await page.goto(`${env.demo.url}/admin/operations`);
  await page.getByLabel("Operation").selectOption("tenant_verification");
  await page.getByLabel("Outcome").selectOption("succeeded");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/type=tenant_verification/);
  assert.match(page.url(), /outcome=succeeded/);
  assert.equal(await page.getByTestId("hub-count").getAttribute("data-count"), "1");
  await page.getByRole("link", { name: "Needs follow-up" }).click();
  await page.getByText("No runs match").waitFor();
  assert.match(page.url(), /tab=follow_up/);
  assert.match(page.url(), /type=tenant_verification/);
  await shot(page, "22-hub-filtered");
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
});

test("a run started in another tab shows up when this tab comes back; idle tabs do not poll", async () => {
  const context = await env.browser.newContext();
  const tabA = await context.newPage();
  const problems = watch(tabA);
  await signInDemo(tabA, env.demo.url);
  const tabB = await context.newPage();
  const problemsB = watch(tabB);
  await contosoDashboard(tabB);
  const idleCalls = record(tabB, "/api/runs/active");
  // Idle: nothing active, so nothing polls (longer than one 10 s cycle).
  await tabB.waitForTimeout(11000);
  assert.equal(idleCalls.length, 0, "an idle tab does not poll");

  await env.demo.fault(CONTOSO, { kind: "slow", delay_ms: 15000 });
  await contosoDashboard(tabA);
  const href = await startVerification(tabA);
  // Tab B has not heard of it until the operator comes back to it.
  assert.equal(await tabB.getByTestId("progress-overlay").count(), 0);
  await tabB.bringToFront();
  await tabB.evaluate(() => window.dispatchEvent(new Event("focus")));
  await tabB.getByTestId("progress-overlay").getByText("Tenant verification · Contoso Ltd").waitFor({ timeout: 5000 });
  await tabB.locator('[data-kpi="Active"][data-count="1"]').waitFor({ timeout: 5000 });
  await shot(tabB, "23-other-tab-shows-the-run");
  await env.demo.fault(CONTOSO, { kind: "none" });
  // Let it end before the next journey starts Contoso's verification again.
  await tabA.goto(`${env.demo.url}${href}`);
  await tabA.locator('[data-testid="live-status"][data-live="finished"]').waitFor({ timeout: 40000 });
  assert.deepEqual([...problems, ...problemsB], [], [...problems, ...problemsB].join("\n"));
  await context.close();
});

test("run detail pauses while the tab is hidden or a dialog is open", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  // One Graph request that takes 25 s keeps the verification running.
  await env.demo.fault(CONTOSO, { kind: "slow", delay_ms: 25000 });
  await contosoDashboard(page);
  const href = await startVerification(page);
  const polls = record(page, "/api/runs/poll");
  await page.goto(`${env.demo.url}${href}`);
  await hydrated(page);
  while (polls.length < 1) await page.waitForTimeout(100);

  // Hidden: no poll for 7 s (longer than any interval), then it resumes.
  await page.evaluate(() => {
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => "hidden" });
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.waitForTimeout(1200); // a request already under way may finish
  let before = polls.length;
  await page.waitForTimeout(7000);
  assert.equal(polls.length, before, "no poll while the tab is hidden");
  assert.equal(await live(page).getAttribute("data-live"), "paused");
  await page.evaluate(() => {
    delete document.visibilityState;
    document.dispatchEvent(new Event("visibilitychange"));
  });
  await page.waitForTimeout(1500);
  assert.ok(polls.length > before, "polling resumed when the tab came back");

  // A dialog open: no poll for 7 s; closing it resumes polling.
  await page.getByRole("button", { name: "Cancel run" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await page.waitForTimeout(1200);
  before = polls.length;
  await page.waitForTimeout(7000);
  assert.equal(polls.length, before, "no poll while a dialog is open");
  await dialog.getByRole("button", { name: "Cancel", exact: true }).click();
  await page.waitForTimeout(1500);
  assert.ok(polls.length > before, "polling resumed after the dialog closed");

  await env.demo.fault(CONTOSO, { kind: "none" });
  await page.locator('[data-testid="live-status"][data-live="finished"]').waitFor({ timeout: 40000 });
  assert.match(await page.getByTestId("run-status").innerText(), /Succeeded/);
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
});
