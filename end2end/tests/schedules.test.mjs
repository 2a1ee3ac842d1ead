// Journey on `tenantry demo`: the schedules page lists the demo's nightly
// inventory with its next fires; a manager creates a schedule on a tag (a bad
// cron is refused inline, naming the field, nothing lost), pauses it, and the
// tenant list filters by that tag. Then an every-minute schedule is seen
// firing, and a bulk inventory on the tag is one overlay entry with a progress
// bar and a page of its tenants. Fails on any console error or failed request.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

// A 2 s reconcile beat: an every-minute schedule fires within seconds of its slot.
const env = demoSuite(["--reconcile-seconds", "2"]);
const CONTOSO = "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c";

test("schedules: list, next fires, create on a tag, refuse a bad cron, pause; tenants by tag", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);

  await page.getByRole("link", { name: "Schedules" }).click();
  await page.waitForURL(/\/admin\/schedules$/);
  await hydrated(page);
  const nightly = page.getByRole("row").filter({ hasText: "Nightly inventory" });
  await nightly.getByText("Every active tenant", { exact: false }).first().waitFor();
  await nightly.getByText("Not fired yet").waitFor();
  await nightly.getByText("Edit · next fires").click();
  assert.equal(await nightly.getByRole("list", { name: "Next five fires" }).getByRole("listitem").count(), 5);
  await shot(page, "schedules-01-list");

  const form = page.getByRole("region", { name: "New schedule" });
  await form.getByLabel("Name").fill("Hourly compliance");
  await form.getByLabel("Operation").selectOption({ label: "Compliance snapshot" });
  await form.getByLabel("Run it on").selectOption({ label: "Tag: Managed services" });
  await form.getByLabel(/When \(cron/).fill("0 * * *");
  await form.getByLabel("Time zone").fill("Europe/Berlin");
  await form.getByRole("button", { name: "Create schedule" }).click();
  await form.getByRole("alert").filter({ hasText: "five fields" }).waitFor();
  assert.equal(await form.getByLabel(/When \(cron/).getAttribute("aria-invalid"), "true");
  assert.equal(await form.getByLabel("Name").inputValue(), "Hourly compliance", "nothing typed is lost");
  // The refusal is an expected 400, not a problem.
  problems.length = 0;

  await form.getByLabel(/When \(cron/).fill("0 * * * *");
  await form.getByRole("button", { name: "Create schedule" }).click();
  await page.waitForURL(/notice=schedule_created/);
  await hydrated(page);
  const hourly = page.getByRole("row").filter({ hasText: "Hourly compliance" });
  await hourly.getByText("Tag: Managed services (2 tenants)").waitFor();
  await hourly.getByText(/CES?T\)?/).first().waitFor();
  await shot(page, "schedules-02-created");

  await hourly.getByRole("button", { name: "Pause" }).click();
  await page.waitForURL(/notice=schedule_paused/);
  await page.getByRole("row").filter({ hasText: "Hourly compliance" }).getByText("Paused").first().waitFor();

  await page.goto(`${env.demo.url}/admin/tenants`);
  await page.getByRole("navigation", { name: "Filter tenants by tag" }).getByRole("link", { name: "Managed services (2)" }).click();
  await page.waitForURL(/\/admin\/tenants\?tag=\d+$/);
  const rows = page.getByRole("table", { name: "Tenants" }).getByRole("row");
  assert.equal(await rows.count(), 3, "a header and the two tagged tenants");
  await shot(page, "schedules-03-tenants-by-tag");

  assert.deepEqual(problems, []);
  await context.close();
});

test("fleet: an every-minute schedule fires; a bulk inventory on a tag is one overlay entry with a bar", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);

  await page.goto(`${env.demo.url}/admin/schedules`);
  await hydrated(page);
  const form = page.getByRole("region", { name: "New schedule" });
  await form.getByLabel("Name").fill("Every minute check");
  await form.getByLabel("Operation").selectOption({ label: "Connection check" });
  await form.getByLabel("Run it on").selectOption({ label: "Northwind Traders" });
  await form.getByLabel(/When \(cron/).fill("* * * * *");
  await form.getByLabel("Time zone").fill("UTC");
  await form.getByRole("button", { name: "Create schedule" }).click();
  await page.waitForURL(/notice=schedule_created/);

  await page.goto(`${env.demo.url}/admin/tenants`);
  await page.getByRole("navigation", { name: "Filter tenants by tag" }).getByRole("link", { name: "Managed services (2)" }).click();
  await page.waitForURL(/\/admin\/tenants\?tag=\d+$/);
  await hydrated(page);
  const bulk = page.getByRole("region", { name: "Start on many tenants" });
  const startOnTag = async (operation) => {
    await bulk.getByLabel("Operation").selectOption({ label: operation });
    await bulk.getByLabel("On", { exact: true }).selectOption({ label: "Every active tenant listed (2)" });
    await bulk.getByRole("button", { name: "Start", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Start on these tenants" }).click();
  };
  const toast = bulk.getByTestId("gate-toast");
  // Inventory needs verified consent: both tagged tenants are blocked, and
  // the toast says so with the next step.
  await startOnTag("Inventory sync");
  await toast.getByText("Blocked", { exact: true }).waitFor();
  await toast.getByText("Inventory sync · 2 blocked.").waitFor();
  await toast.getByRole("link", { name: "See the blocked tenants" }).waitFor();
  // Verify both at once; its page refreshes until both have ended.
  await startOnTag("Tenant verification");
  await toast.getByText("Tenant verification · Started on 2 tenants.").waitFor();
  await toast.getByRole("link", { name: "See progress for every tenant" }).click();
  await page.waitForURL(/\/admin\/bulk\/\d+$/);
  await hydrated(page);
  await page.locator('[data-testid="bulk-progress"][data-done="2"]').waitFor({ timeout: 60_000 });

  // Now the inventory, with Contoso answering slowly so it is still under way when we look.
  await env.demo.fault(CONTOSO, { kind: "slow", delay_ms: 6000 });
  await page.goBack();
  await page.waitForURL(/\/admin\/tenants\?tag=\d+$/);
  await hydrated(page);
  await startOnTag("Inventory sync");
  await toast.getByText("Queued", { exact: true }).waitFor();
  // The demo keeps one tagged tenant's consent unconfirmed after verification:
  // whatever the counts, the toast and the overlay agree on them.
  const said = (await toast.getByText(/^Inventory sync · Started on/).innerText()).match(/Started on (\d+) tenants?/);
  assert.ok(said, "the toast says how many started");
  const started = Number(said[1]);
  assert.ok(started >= 1);
  await shot(page, "fleet-01-bulk-toast");

  const entry = page.getByTestId("progress-overlay").locator("li[data-bulk]");
  await entry.waitFor();
  // One definition of progress: the bar counts every tenant of the start
  // (blocked ones are done at once), the same as the bulk's page.
  const total = Number(await entry.getAttribute("data-total"));
  assert.equal(total, 2);
  assert.ok(Number(await entry.getAttribute("data-done")) >= 2 - started);
  await entry.getByRole("progressbar").waitFor();
  assert.match(await entry.innerText(), /Managed services/);
  await shot(page, "fleet-02-overlay-bar");

  await toast.getByRole("link", { name: "See progress for every tenant" }).click();
  await page.waitForURL(/\/admin\/bulk\/\d+$/);
  await hydrated(page);
  assert.equal(await page.getByTestId("bulk-children").locator("tbody tr").count(), 2);
  // The page refreshes itself until every run it started has ended.
  await page.locator(`[data-testid="bulk-progress"][data-done="${total}"]`).waitFor({ timeout: 60_000 });
  await page.getByText("Every tenant of this start has ended.").waitFor();
  await shot(page, "fleet-03-bulk-page");
  await env.demo.fault(CONTOSO, { kind: "none" });

  // The every-minute schedule has fired (within a minute and a beat).
  const deadline = Date.now() + 90_000;
  for (;;) {
    await page.goto(`${env.demo.url}/admin/schedules`);
    const row = page.getByRole("row").filter({ hasText: "Every minute check" });
    if ((await row.getByText(/\d+ queued|already running/).count()) > 0) break;
    assert.ok(Date.now() < deadline, "the every-minute schedule did not fire");
    await new Promise((r) => setTimeout(r, 3000));
  }
  await shot(page, "fleet-04-schedule-fired");

  assert.deepEqual(problems, []);
  await context.close();
});
