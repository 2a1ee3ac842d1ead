// What an operator does next, on `tenantry demo`: a verification that failed
// for missing admin consent links to Microsoft's consent page (the Graph
// simulator's), the grant comes back unconfirmed and "Verify now" confirms
// it; a platform operator cancels a running run from the system plane and
// starts it again as the system.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { demoSuite, watch, shot, hydrated, signInDemo, tenantDashboard, startVerification } from "./harness.mjs";

const CONTOSO = "3f0c2b6e-5a1d-4c8e-9b7a-1d2e3f4a5b6c";

const env = demoSuite();

const dashboard = (page, name) => tenantDashboard(page, env.demo.url, name);

/// Problems on Tenantry's own origin (the simulated Microsoft page has no favicon).
/// (Its 404 shows as a console line without the address; our own 404s are
/// also recorded with their address by the response listener.)
const ours = (problems) =>
  problems.filter((p) => !p.includes(env.demo.sim) && !p.startsWith("console error: Failed to load resource"));

test("missing admin consent: grant it on Microsoft's page, come back, verify", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);

  await dashboard(page, "Fabrikam Inc");
  const { href } = await startVerification(page);
  await page.goto(`${env.demo.url}${href}`);
  await page.locator('[data-testid="run-status"]').filter({ hasText: /failed/i }).waitFor({ timeout: 30000 });
  await hydrated(page);
  const steps = page.getByTestId("next-steps").first();
  const grant = steps.getByRole("link", { name: "Grant admin consent" });
  await grant.waitFor();
  await shot(page, "40-consent-next-step");

  // Microsoft's admin-consent page (the simulator's), then back to Tenantry.
  await grant.click();
  await page.getByRole("heading", { name: "Permissions requested" }).waitFor();
  assert.ok(page.url().includes("/v2.0/adminconsent"), page.url());
  await shot(page, "41-microsoft-consent");
  await page.getByRole("button", { name: "Accept" }).click();
  await page.waitForURL(/\/admin\/t\/\d+\/connections\/\d+\?notice=consent_granted$/);
  await hydrated(page);
  const unconfirmed = page.getByTestId("consent-unconfirmed");
  await unconfirmed.waitFor();
  await shot(page, "42-consent-unconfirmed");

  // Verify now confirms it: the verification succeeds and the notice goes.
  await unconfirmed.getByRole("button", { name: "Verify now" }).click();
  const toast = unconfirmed.getByRole("status");
  await toast.locator(".toast-title").waitFor();
  assert.equal(await toast.locator(".toast-title").innerText(), "Queued");
  const verified = await toast.getByRole("link").first().getAttribute("href");
  await page.goto(`${env.demo.url}${verified}`);
  await page.locator('[data-testid="run-status"]').filter({ hasText: /Succeeded/ }).waitFor({ timeout: 30000 });
  await shot(page, "43-consent-verified");
  assert.deepEqual(ours(problems), [], ours(problems).join("\n"));
  await context.close();
});

test("system plane: cancel a running run, then run it again as the system", async () => {
  const context = await env.browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);
  await signInDemo(page, env.demo.url);
  // One slow Graph request keeps the verification running.
  await env.demo.fault(CONTOSO, { kind: "slow", delay_ms: 20000 });
  await dashboard(page, "Contoso Ltd");
  const { href } = await startVerification(page);
  const run = href.split("/").pop();

  await page.goto(`${env.demo.url}/system/ops/runs/${run}`);
  await hydrated(page);
  const triage = page.getByTestId("system-actions");
  await triage.getByRole("button", { name: "Cancel run" }).click();
  const confirm = page.getByRole("dialog");
  await confirm.getByText(/audit log records you as the actor/).waitFor();
  await shot(page, "44-system-cancel-confirm");
  await confirm.getByRole("button", { name: "Cancel run" }).click();
  await page.waitForURL(/notice=(run_cancelled|cancel_requested)/);
  await page.locator('[data-testid="run-status"]').filter({ hasText: /Cancel/ }).waitFor();
  await env.demo.fault(CONTOSO, { kind: "none" });
  // A running run stops at its next check; a verification whose only check
  // comes after its last (slow) request finishes with its real outcome. The
  // system page is not live, so look again until it has ended either way.
  const deadline = Date.now() + 45000;
  let status = "";
  for (;;) {
    await page.goto(`${env.demo.url}/system/ops/runs/${run}`);
    status = await page.getByTestId("run-status").innerText();
    if (/^(Cancelled|Succeeded|Failed)/.test(status)) break;
    assert.ok(Date.now() < deadline, `the cancelled run ended (still ${status})`);
    await page.waitForTimeout(2000);
  }
  await hydrated(page);

  // Run again: a new run through the gate as the system, linked to this one.
  await page.getByTestId("system-actions").getByRole("button", { name: "Run again" }).click();
  const again = page.getByRole("dialog");
  await again.getByText(/links back to #/).waitFor();
  await again.getByRole("button", { name: "Run again" }).click();
  const toast = page.getByTestId("system-actions").getByRole("status");
  await toast.locator(".toast-title").waitFor();
  assert.equal(await toast.locator(".toast-title").innerText(), "Queued");
  const rerun = await toast.getByRole("link").first().getAttribute("href");
  assert.match(rerun, /^\/system\/ops\/runs\/\d+$/);
  await page.goto(`${env.demo.url}${rerun}`);
  await page.getByText(`Started again from`).waitFor();
  await page.getByText(/system \(for demo@tenantry\.local\)/).waitFor();
  await shot(page, "45-system-run-again");
  assert.deepEqual(problems, [], problems.join("\n"));
  await context.close();
});
