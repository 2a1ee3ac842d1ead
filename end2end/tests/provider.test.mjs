// Journey on `tenantry demo`: sign in as the demo owner, read readiness before
// the click, start tenant verification and see the presenter's toast, watch
// the run succeed, then start an inventory sync and browse what it stored; on
// the tenant without consent, verification fails with the reason and next steps.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite();

async function tenantDashboard(page, name) {
  await page.goto(`${env.demo.url}/admin/tenants`);
  await page.getByRole("link", { name }).click();
  await page.waitForURL(/\/admin\/t\/\d+$/);
  await hydrated(page);
}

async function startFromDashboard(page, label) {
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: label, exact: true }) });
  await row.getByRole("button", { name: `Start ${label.toLowerCase()}` }).click();
  const toast = row.getByRole("status");
  await toast.locator(".toast-title").waitFor();
  return toast;
}

/// The run page refreshes itself while the run is active (the live island),
/// so the journey opens it once and waits for the outcome to appear.
async function waitForOutcome(page, href, word) {
  await page.goto(`${env.demo.url}${href}`);
  await page
    .locator('[data-testid="run-status"]')
    .filter({ hasText: new RegExp(word, "i") })
    .waitFor({ timeout: 30000 });
}

test("run provider operations on the demo tenants", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);

  await signInDemo(page, env.demo.url);

  await tenantDashboard(page, "Contoso Ltd");
  // Before the first verification, consent is unconfirmed: the dashboard says so before any click.
  await page.getByText("Admin consent has not been granted").first().waitFor();
  await shot(page, "10-provider-readiness");

  let toast = await startFromDashboard(page, "Tenant verification");
  assert.equal(await toast.locator(".toast-title").innerText(), "Queued");
  const runHref = await toast.getByRole("link").getAttribute("href");
  assert.match(runHref, /^\/admin\/operations\/\d+$/);
  await shot(page, "11-verification-queued");
  await waitForOutcome(page, runHref, "succeeded");

  await tenantDashboard(page, "Contoso Ltd");
  await page.getByRole("link", { name: "Read the verification report" }).click();
  await page.getByText("Permission DeviceManagementManagedDevices.Read.All").waitFor();

  await tenantDashboard(page, "Contoso Ltd");
  toast = await startFromDashboard(page, "Inventory sync");
  assert.equal(await toast.locator(".toast-title").innerText(), "Queued");
  await waitForOutcome(page, await toast.getByRole("link").getAttribute("href"), "succeeded");
  await tenantDashboard(page, "Contoso Ltd");
  await page.getByRole("link", { name: "Managed devices" }).click();
  await page.getByRole("searchbox", { name: "Search by name" }).fill("DESKTOP");
  await page.getByRole("button", { name: "Search" }).click();
  await page.getByText(/result\(s\) · page 1 of/).waitFor();
  const rows = await page.locator("tbody tr").count();
  assert.ok(rows > 0, "the search found devices");
  await shot(page, "12-inventory-browse");

  // Fabrikam has not granted consent: verification fails with the reason and next steps.
  await tenantDashboard(page, "Fabrikam Inc");
  toast = await startFromDashboard(page, "Tenant verification");
  const failedHref = await toast.getByRole("link").getAttribute("href");
  await waitForOutcome(page, failedHref, "failed");
  await page.getByText("Admin consent has not been granted").first().waitFor();
  await shot(page, "13-consent-missing");

  // Starting again while blocked is answered with the public word and no new work.
  await tenantDashboard(page, "Fabrikam Inc");
  toast = await startFromDashboard(page, "Inventory sync");
  assert.equal(await toast.locator(".toast-title").innerText(), "Blocked");

  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
});
