// Restore on `tenantry demo`: verify and sync Contoso, let the demo's
// "admin" change and delete policies, sync again, then restore from the
// first snapshot: the preview shows the change and the re-creation, the
// typed name confirms, the run reports per-item results. On the way, the
// tenant page's drift card and the change history show what the sync found.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite();

async function runToEnd(page, dashboard, rowName, button) {
  await page.goto(dashboard);
  await hydrated(page);
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: rowName, exact: true }) });
  await row.getByRole("button", { name: button }).click();
  const href = await row.getByRole("status").getByRole("link").getAttribute("href");
  await page.goto(`${env.demo.url}${href}`);
  await page.locator('[data-testid="run-status"]').filter({ hasText: "Succeeded" }).waitFor({ timeout: 30000 });
}

test("restore policies from an older snapshot", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await page.goto(`${env.demo.url}/admin/tenants`);
  await page.getByRole("link", { name: "Contoso Ltd" }).click();
  await page.waitForURL(/\/admin\/t\/\d+$/);
  const dashboard = page.url();

  await runToEnd(page, dashboard, "Tenant verification", "Start tenant verification");
  await runToEnd(page, dashboard, "Inventory sync", "Start inventory sync");
  await page.waitForTimeout(3000); // the demo's "admin" edits the tenant
  await runToEnd(page, dashboard, "Inventory sync", "Start inventory sync");

  // Drift: the tenant page says what the second sync found changed, setting by setting.
  await page.goto(dashboard);
  const drift = page.getByRole("region", { name: "Changes since the last sync" });
  const counts = drift.getByTestId("drift-counts");
  assert.equal(await counts.getAttribute("data-changed"), "1");
  assert.equal(await counts.getAttribute("data-removed"), "1");
  assert.equal(await counts.getAttribute("data-added"), "0");
  await drift.getByRole("rowheader", { name: "passwordMinimumLength" }).waitFor();
  await shot(page, "59-drift-card");
  await drift.getByRole("link", { name: "All changes" }).click();
  await page.waitForURL(/\/changes$/);
  assert.equal(await page.getByTestId("drift-history").getAttribute("data-count"), "2");
  await page.getByLabel("Change", { exact: true }).selectOption("removed");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/change=removed/);
  assert.equal(await page.getByTestId("drift-history").getAttribute("data-count"), "1");
  // The fleet overview counts them too, and sorts by them.
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Fleet" }).click();
  await page.waitForURL(/\/admin\/fleet$/);
  await page.getByRole("columnheader", { name: /Changes \(7 d\)/ }).getByRole("link").click();
  await page.waitForURL(/sort=drift&dir=desc/);
  const first = page.getByTestId("fleet-table").locator("tbody tr").first();
  assert.match(await first.getByRole("rowheader").innerText(), /Contoso Ltd/);
  assert.equal(await first.locator("td[data-drift]").getAttribute("data-drift"), "2");
  await first.getByRole("img", { name: /Compliance|No compliance/ }).waitFor();
  await shot(page, "59b-fleet");
  await page.goBack();
  await page.goBack();
  await page.waitForURL(/change=removed/);
  // The way back goes through restore's preview and confirmation.
  await page.getByRole("link", { name: "Restore this policy to before…" }).click();
  await page.waitForURL(/\/restore\?snapshot=\d+&item=\d+$/);

  await page.goto(dashboard);
  await page.getByRole("link", { name: "Restore policies from an inventory snapshot" }).click();
  await page.waitForURL(/\/restore$/);
  const snapshots = page.locator('section[aria-labelledby="step-snapshot"] li');
  assert.equal(await snapshots.count(), 2);
  await snapshots.nth(1).getByRole("link").first().click(); // the older one
  await page.getByRole("heading", { name: "2. Pick policies" }).waitFor();
  const boxes = page.locator('input[name="item"]');
  assert.equal(await boxes.count(), 48);
  for (let i = 0; i < 48; i++) await boxes.nth(i).check();
  await page.getByRole("button", { name: "Preview the restore" }).click();
  const preview = page.getByTestId("restore-preview");
  await preview.waitFor();
  assert.match(await preview.innerText(), /48 selected, 2 would be written\./);
  assert.equal(await preview.getByText("Will be changed").count(), 1);
  assert.equal(await preview.getByText("Will be created").count(), 1);
  const diff = preview.locator("table.diff-table").filter({ hasText: "passwordMinimumLength" });
  assert.match(await diff.innerText(), /passwordMinimumLength\s+4\s+\d+/);
  await hydrated(page);
  await shot(page, "60-restore-preview");

  // The typed name must match.
  await page.getByLabel("Type Contoso Ltd to confirm").fill("contoso");
  await page.getByRole("button", { name: "Restore 48 policies" }).click();
  await page.getByRole("alert").getByText(/exactly as shown/).waitFor();
  await page.getByLabel("Type Contoso Ltd to confirm").fill("Contoso Ltd");
  await page.getByRole("button", { name: "Restore 48 policies" }).click();
  const toast = page.getByTestId("gate-toast");
  await toast.getByText("Queued", { exact: true }).waitFor();
  await toast.getByRole("link", { name: "Watch the run" }).click();
  await page.locator('[data-testid="run-status"]').filter({ hasText: "Succeeded" }).waitFor({ timeout: 30000 });
  await page.reload();
  const items = page.getByTestId("run-items");
  assert.equal(await items.getByText("Created", { exact: true }).count(), 1);
  assert.equal(await items.getByText("Updated", { exact: true }).count(), 1);
  assert.equal(await items.getByText("Already as in the snapshot").count(), 46);
  await shot(page, "61-restore-done");
  // The one 400 is the wrong name we typed on purpose.
  assert.deepEqual(problems.filter((p) => !p.includes("status of 400")), []);
  assert.equal(problems.length, 1, problems.join("\n"));
  await context.close();
});
