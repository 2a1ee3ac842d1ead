// Journey on `tenantry demo`: the schedules page lists the demo's nightly
// inventory with its next fires; a manager creates a schedule on a tag (a bad
// cron is refused inline, naming the field, nothing lost), pauses it, and the
// tenant list filters by that tag. Fails on any console error or failed request.
import { test } from "node:test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite();

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
