// Baselines on `tenantry demo`: Contoso's first inventory becomes the demo's
// baseline "Contoso standard"; assigned to every tenant and compared, Contoso
// is aligned. The demo's "admin" then changes Contoso; the next sync compares
// by itself and the matrix shows one policy different and one missing.
// Accept the missing one, bring the different one in line (preview, typed
// name, a restore through the gate), sync again: aligned, the accepted one
// still accepted. The fleet shows the alignment.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite(["--reconcile-seconds", "2"]);

async function runToEnd(page, dashboard, rowName, button) {
  await page.goto(dashboard);
  await hydrated(page);
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: rowName, exact: true }) });
  await row.getByRole("button", { name: button }).click();
  const href = await row.getByRole("status").getByRole("link").getAttribute("href");
  await page.goto(`${env.demo.url}${href}`);
  await page.locator('[data-testid="run-status"]').filter({ hasText: "Succeeded" }).waitFor({ timeout: 30000 });
}

/// Reloads the matrix until Contoso's row says `counts` (aligned/different/missing/accepted/not compared).
async function contosoRow(page, matrixUrl, counts) {
  for (let i = 0; i < 60; i++) {
    await page.goto(matrixUrl);
    const row = page.getByTestId("matrix").locator("tbody tr").filter({ has: page.getByRole("rowheader", { name: /Contoso Ltd/ }) });
    if ((await row.count()) === 1 && (await row.locator("td[data-counts]").getAttribute("data-counts")) === counts) return row;
    await page.waitForTimeout(1000);
  }
  assert.fail(`Contoso's row never showed ${counts}`);
}

test("a baseline from Contoso: differences, an accepted deviation, one brought in line", async () => {
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

  // The demo captured its baseline from that first inventory.
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Baselines" }).click();
  await page.waitForURL(/\/admin\/baselines$/);
  const listed = page.getByTestId("baselines").getByRole("link", { name: "Contoso standard" });
  for (let i = 0; i < 20 && (await listed.count()) === 0; i++) {
    await page.waitForTimeout(1000);
    await page.reload();
  }
  await listed.click();
  await page.waitForURL(/\/admin\/baselines\/\d+$/);
  const matrixUrl = page.url();
  await page.getByTestId("matrix-empty").waitFor();
  await hydrated(page);

  // Applied to every tenant, then compared now: Contoso is aligned, the
  // others have no inventory to compare yet.
  const applies = page.getByRole("region", { name: "Applies to" });
  await applies.getByLabel("Assign to").selectOption({ label: "Every active tenant" });
  await applies.getByRole("button", { name: "Assign" }).click();
  await page.waitForURL(/notice=baseline_assigned/);
  await hydrated(page);
  await page.getByRole("button", { name: "Compare now" }).click();
  // The assignment made Contoso due, so the reconciler may have started its compare first.
  const title = page.getByTestId("gate-toast").locator(".toast-title");
  await title.waitFor();
  assert.ok(["Queued", "Already running"].includes(await title.innerText()), await title.innerText());
  const aligned = await contosoRow(page, matrixUrl, "48/0/0/0/0");
  assert.equal(await aligned.locator('td[data-state="aligned"]').count(), 48);
  await page.getByRole("rowheader", { name: /Fabrikam/ }).waitFor();
  await shot(page, "baseline-01-aligned");

  // The demo's "admin" changed Contoso after that first sync: the next sync
  // compares by itself, and the matrix shows what differs.
  await runToEnd(page, dashboard, "Inventory sync", "Start inventory sync");
  const row = await contosoRow(page, matrixUrl, "46/1/1/0/0");
  await row.locator('td[data-state="different"]').waitFor();
  await row.locator('td[data-state="missing"]').waitFor();
  await page.getByLabel("Tenants with a cell that is").selectOption("missing");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/state=missing/);
  assert.equal(await page.getByTestId("matrix").getAttribute("data-tenants"), "1");
  // 48 columns scroll inside the matrix: the page itself stays as wide as the window.
  const widths = await page.evaluate(() => {
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => !e.closest(".table-scroll") && e.getBoundingClientRect().right > window.innerWidth + 1)
      .slice(0, 5)
      .map((e) => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
    const t = document.querySelector("table.matrix");
    return { page: document.documentElement.scrollWidth, window: window.innerWidth, wide, parent: `${t?.parentElement?.tagName}.${t?.parentElement?.className} ${getComputedStyle(t?.parentElement).overflowX} ${t?.parentElement?.getBoundingClientRect().width}` };
  });
  assert.ok(widths.page <= widths.window, JSON.stringify(widths));
  await shot(page, "baseline-02-matrix");

  // The tenant's alignment: the changed settings, then accept the missing policy.
  await page.getByRole("link", { name: "Contoso Ltd" }).first().click();
  await page.waitForURL(/\/admin\/baselines\/\d+\/t\/\d+$/);
  await hydrated(page);
  const different = page.locator('article[data-state="different"]');
  await different.getByRole("rowheader", { name: "passwordMinimumLength" }).waitFor();
  const missingName = (await page.locator('article[data-state="missing"] h3').innerText()).split(" Missing")[0].trim();
  const accept = page.getByRole("region", { name: "Accept deviations" });
  await accept.getByLabel(missingName).check();
  await accept.getByLabel("Why (kept in the audit log)").fill("The customer retired this policy on purpose.");
  await accept.getByRole("button", { name: "Accept" }).click();
  await page.waitForURL(/notice=deviation_accepted/);
  const counts = page.getByTestId("tenant-counts");
  assert.equal(await counts.getAttribute("data-accepted"), "1");
  assert.equal(await counts.getAttribute("data-missing"), "0");
  await page.getByTestId("acceptance").getByText(/retired this policy on purpose/).waitFor();

  // Bring the different one in line: preview, typed name, a restore.
  await page.getByRole("link", { name: /Bring 1 deviating policy in line/ }).click();
  await page.waitForURL(/\/align\?cells=/);
  await hydrated(page);
  await page.getByRole("rowheader", { name: "passwordMinimumLength" }).waitFor();
  await page.getByText("Will be changed").first().waitFor();
  await shot(page, "baseline-03-align-preview");
  await page.getByLabel("Type Contoso standard to confirm").fill("Contoso standard");
  await page.getByRole("button", { name: "Bring in line on 1 tenant" }).click();
  const toast = page.getByTestId("gate-toast");
  await toast.getByText("Queued", { exact: true }).waitFor();
  await toast.getByRole("link", { name: "See progress for every tenant" }).click();
  await page.waitForURL(/\/admin\/bulk\/\d+$/);
  await page.locator('[data-testid="bulk-progress"][data-done="1"]').waitFor({ timeout: 60_000 });

  // The next sync finds it aligned; the accepted deviation stays accepted.
  await runToEnd(page, dashboard, "Inventory sync", "Start inventory sync");
  await contosoRow(page, matrixUrl, "47/0/0/1/0");
  await shot(page, "baseline-04-aligned-again");

  // The fleet shows the alignment (47 of 48).
  await page.goto(`${env.demo.url}/admin/fleet`);
  const fleetRow = page.getByTestId("fleet-table").locator("tbody tr").filter({ has: page.getByRole("rowheader", { name: /Contoso Ltd/ }) });
  assert.equal(await fleetRow.locator("td[data-alignment]").getAttribute("data-alignment"), "98");
  await page.getByRole("img", { name: /Baseline alignment per day/ }).waitFor();

  assert.deepEqual(problems, []);
  await context.close();
});
