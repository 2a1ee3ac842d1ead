// The review pack card on `tenantry demo`: no polling without a pack;
// generate → queued/generating → ready, polling every ~10 s only until then;
// downloads through the authorised route.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite();

test("generate a review pack: the card polls only while it is generating", async () => {
  const context = await env.browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  const problems = watch(page);
  const polls = [];
  page.on("request", (r) => {
    if (r.url().includes("/api/review-packs/card")) polls.push(Date.now());
  });
  await signInDemo(page, env.demo.url);
  await page.goto(`${env.demo.url}/admin/tenants`);
  await page.getByRole("link", { name: "Contoso Ltd" }).click();
  await page.waitForURL(/\/admin\/t\/\d+$/);
  await hydrated(page);

  const card = page.getByTestId("review-pack-card");
  assert.equal(await card.getAttribute("data-status"), "none");
  await card.getByText("No review pack yet").waitFor();
  await page.waitForTimeout(12000);
  assert.equal(polls.length, 0, "no pack: the card does not poll");

  // Only two sections; the others unticked.
  for (const label of ["Verification report", "Inventory (policies and devices)", "Device compliance"]) {
    await card.getByLabel(label).uncheck();
  }
  await card.getByRole("button", { name: "Generate review pack" }).click();
  await card.getByRole("status").getByText("Queued").first().waitFor();
  await card.getByRole("link", { name: "Watch the run" }).waitFor();
  const started = Date.now();
  await page.locator('[data-testid="review-pack-card"][data-status="ready"]').waitFor({ timeout: 30000 });
  const readyAt = Date.now();
  assert.ok(polls.length >= 1, "it polled while generating");
  // The polls came about every 10 s (the first one 10 s after the start).
  assert.ok(polls[0] - started > 8000, `first poll after ${polls[0] - started} ms`);
  await shot(page, "40-review-pack-ready");
  const html = card.getByTestId("review-pack-html");
  assert.match(await html.innerText(), /HTML, \d/);
  const href = await html.getAttribute("href");
  assert.match(href, /^\/admin\/t\/\d+\/review-packs\/\d+\/report\.html$/);
  const download = await context.request.get(`${env.demo.url}${href}`);
  assert.equal(download.status(), 200);
  assert.match(download.headers()["content-disposition"], /^attachment; filename="contoso-ltd-review-pack-/);
  assert.match(await download.text(), /Groups and role definitions/);
  const zip = await context.request.get(`${env.demo.url}${await card.getByTestId("review-pack-zip").getAttribute("href")}`);
  assert.equal(zip.status(), 200);
  assert.equal(zip.headers()["content-type"], "application/zip");

  // Ready: the card stops polling.
  const before = polls.length;
  await page.waitForTimeout(25000);
  assert.equal(polls.length, before, `no polls after ready (${polls.length - before} more)`);
  assert.ok(readyAt - started < 30000);
  // A stranger's session (signed out) cannot download it.
  const anonymous = await env.browser.newContext();
  const denied = await anonymous.request.get(`${env.demo.url}${href}`, { maxRedirects: 0 });
  assert.equal(denied.status(), 303);
  await anonymous.close();
  assert.deepEqual(problems, []);
  await context.close();
});
