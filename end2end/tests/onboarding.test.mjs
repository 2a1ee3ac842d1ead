// The onboarding wizard on `tenantry demo`: tenant → connection → verify →
// choose → bootstrap, resuming a draft from the list, each step's run live,
// and never two bootstrap runs active at once.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo } from "./harness.mjs";

const env = demoSuite();

const WOODGROVE = "5b8e2f14-3c6d-4a7e-9f01-23456789abcd";
const CLIENT = "5e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b";
const SECRET = "demo-client-secret-not-for-production";

test("onboard a tenant with the wizard; the bootstrap runs one operation at a time", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  await page.getByRole("link", { name: "Onboarding" }).click();
  await page.waitForURL(/\/admin\/onboarding$/);
  await hydrated(page);
  await page.getByText("No onboarding in progress.").waitFor();

  await page.getByLabel("Display name").fill("Woodgrove Bank");
  await page.getByLabel("Microsoft tenant id").fill(WOODGROVE);
  await page.getByRole("button", { name: "Create tenant and continue" }).click();
  await page.waitForURL(/\/admin\/onboarding\/\d+$/);
  const wizard = page.url();
  await hydrated(page);
  assert.equal(await page.locator('.wizard-steps [aria-current="step"]').innerText(), "Provider connection");
  assert.equal(await page.getByLabel("Entra tenant id").inputValue(), WOODGROVE, "prefilled from the tenant");
  await page.getByLabel("Application (client) id").fill(CLIENT);
  await page.getByLabel("Client secret").fill(SECRET);
  await page.getByLabel("Secret expires on").fill("2030-12-31");
  await page.getByRole("button", { name: "Save connection and continue" }).click();
  await page.getByRole("heading", { name: "3. Verify" }).waitFor();

  // Leave and come back: the draft resumes at its step.
  await page.goto(`${env.demo.url}/admin/onboarding`);
  await page.getByRole("link", { name: "Woodgrove Bank" }).click();
  await page.waitForURL(wizard);
  await hydrated(page);
  assert.equal(await page.locator('.wizard-steps [aria-current="step"]').innerText(), "Verify");

  await page.getByRole("button", { name: "Verify the tenant" }).click();
  await page.getByTestId("gate-toast").getByText("Queued", { exact: true }).waitFor();
  // The live part shows the run, then the page moves on to the next step by itself.
  await page.getByRole("heading", { name: "4. Choose the bootstrap" }).waitFor({ timeout: 30000 });
  await hydrated(page);
  assert.match(await page.getByTestId("onboarding-live").innerText(), /Verification — Succeeded/);
  await shot(page, "50-onboarding-choose");

  // Slow the simulated tenant down so the sequence can be watched.
  await env.demo.fault(WOODGROVE, { kind: "slow", delay_ms: 600 });
  await page.getByRole("button", { name: "Start the bootstrap" }).click();
  await page.getByRole("heading", { name: "5. Bootstrap" }).waitFor({ timeout: 15000 });
  await hydrated(page);
  const live = page.getByTestId("onboarding-live");
  // Sample the progress: at most one operation queued or running at a time.
  let sawWaiting = false;
  for (let i = 0; i < 300; i++) {
    const text = await live.innerText();
    const moving = (text.match(/— (Queued|Running)/g) ?? []).length;
    assert.ok(moving <= 1, `two bootstrap runs at once:\n${text}`);
    if (/Waiting for the previous operation/.test(text)) sawWaiting = true;
    if (await page.getByRole("heading", { name: "Onboarded" }).count()) break;
    await page.waitForTimeout(100);
  }
  await page.getByRole("heading", { name: "Onboarded" }).waitFor({ timeout: 30000 });
  await hydrated(page);
  const done = await page.getByTestId("onboarding-live").innerText();
  for (const op of ["Inventory sync", "Compliance snapshot", "Directory groups sync", "Role definitions sync"]) {
    assert.match(done, new RegExp(`${op} — Succeeded`), done);
  }
  assert.ok(sawWaiting || /Succeeded/.test(done));
  await shot(page, "51-onboarding-done");
  await page.getByRole("link", { name: "Open the tenant's dashboard" }).click();
  await page.waitForURL(/\/admin\/t\/\d+$/);
  await page.getByRole("heading", { name: /Woodgrove Bank/ }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});
