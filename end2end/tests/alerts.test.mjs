// Journey (issue 31) on `tenantry demo`: the demo's rule watches failed
// runs; verification of the throttled tenant fails twice; one alert appears
// with its count (and in the shell); the owner acknowledges it; the demo's
// webhook receiver shows the signed delivery and the desk simulator the
// ticket. Fails on any console error, hydration warning or failed request.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo, tenantDashboard, startVerification } from "./harness.mjs";

const env = demoSuite();

/// Reloads `url` until `ready(page)` holds (the alert loop runs every half second).
async function until(page, url, ready, what, timeout = 60_000) {
  const end = Date.now() + timeout;
  for (;;) {
    await page.goto(url);
    if (await ready(page)) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(500);
  }
}

async function verificationFails(page) {
  await tenantDashboard(page, env.demo.url, "Northwind Traders");
  const { href } = await startVerification(page);
  await page.goto(`${env.demo.url}${href}`);
  await page.locator('[data-testid="run-status"]').filter({ hasText: /failed/i }).waitFor({ timeout: 60_000 });
}

test("a failing tenant raises one alert with its count; acknowledged; delivered signed and as a ticket", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);

  // Nothing yet; the demo's rule and its receiver are in place.
  await page.goto(`${env.demo.url}/admin/alerts`);
  await page.getByText("No alerts here").waitFor();
  await page.getByRole("link", { name: "Alerts none open" }).waitFor();
  await page.getByRole("link", { name: "Rules and webhooks" }).click();
  await page.waitForURL(/\/admin\/alerts\/rules$/);
  await page.getByRole("cell", { name: /Runs failing on a tenant/ }).waitFor();
  await page.locator("#endpoints").getByRole("heading", { name: /Demo receiver/ }).waitFor();
  await shot(page, "alerts-01-rules");

  // The throttled tenant fails twice: one alert, counted twice.
  await verificationFails(page);
  await verificationFails(page);
  await until(
    page,
    `${env.demo.url}/admin/alerts`,
    async (p) => (await p.locator('[data-testid="alerts"] article[data-occurrences="2"]').count()) === 1,
    "the alert counted twice",
  );
  await hydrated(page);
  const card = page.locator('[data-testid="alerts"] article').first();
  await card.getByText(/Northwind Traders/).first().waitFor();
  assert.equal(await card.getAttribute("data-state"), "open");
  assert.equal(await card.locator("[data-severity]").innerText(), "Critical");
  assert.equal(await page.getByTestId("alerts-count").innerText(), "1");
  await shot(page, "alerts-02-open");

  // Acknowledge it with a note; it moves to its tab.
  await card.getByLabel("Note (optional)").fill("Microsoft is throttling Northwind; watching it.");
  await card.getByRole("button", { name: "Acknowledge" }).click();
  await page.waitForURL(/notice=alert_acknowledged/);
  await page.getByText("Alert acknowledged").waitFor();
  await page.getByText("Nothing needs attention").waitFor();
  await page.locator('[data-tab="acknowledged"] .count').filter({ hasText: "1" }).waitFor();
  await page.locator('[data-tab="acknowledged"]').click();
  await page.waitForURL(/tab=acknowledged/);
  await page.getByText("Microsoft is throttling Northwind; watching it.").waitFor();
  await shot(page, "alerts-03-acknowledged");

  // The receiver got the opening, signed with the endpoint's secret; the
  // desk got one ticket for the alert (not one per failure).
  const end = Date.now() + 30_000;
  let opened = [];
  let tickets = [];
  while (Date.now() < end) {
    opened = (await env.demo.received()).filter((m) => JSON.parse(m.body).type === "alert.opened");
    tickets = (await env.demo.deskTickets()).filter((t) => /Northwind Traders/.test(t.summary));
    if (opened.length > 0 && tickets.length > 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(opened.length, 1, "one opening delivered");
  assert.equal(opened[0].signature_valid, true, "its signature checks out");
  assert.match(opened[0].id, /^msg_[0-9a-f]{32}$/);
  const payload = JSON.parse(opened[0].body);
  assert.equal(payload.data.alert.severity, "critical");
  assert.equal(payload.data.tenant.name, "Northwind Traders");
  assert.equal(tickets.length, 1, "one ticket");
  assert.match(tickets[0].summary, /Critical/);
  // The receiver's own page (another origin: not watched for its favicon).
  const receiverPage = await context.newPage();
  await receiverPage.goto(env.demo.receiver);
  await receiverPage.getByText("Signature valid").first().waitFor();
  await shot(receiverPage, "alerts-04-receiver");
  await receiverPage.close();

  // The alert links its ticket.
  await page.goto(`${env.demo.url}/admin/alerts?tab=acknowledged`);
  await page.getByRole("link", { name: /^Halo #\d+$/ }).waitFor();
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
});
