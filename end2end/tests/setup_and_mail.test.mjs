// Journeys (issue 21): a fresh server is set up from the code it prints;
// the demo mails an invitation, whose link (read from the demo's page of
// sent mail) opens the invitation. Fail on any console error or failed request.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { startServer, startDemo, watch, shot, hydrated, signInDemo, PASSWORD, loaded, accessibilityGate } from "./harness.mjs";

accessibilityGate();

test("first-run setup: the code from the server's output creates the first owner, then /setup is gone", async ({ browser }) => {
  const server = await startServer();
  try {
    for (let i = 0; i < 50 && !/setup code [A-Z0-9-]{14}/.test(server.output()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const code = server.output().match(/setup code ([A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4})/)?.[1];
    assert.ok(code, `serve printed no setup code:\n${server.output()}`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watch(page);
    // The sign-in page of a fresh server points at the setup page.
    await page.goto(`${server.url}/sign-in`);
    await page.getByRole("link", { name: "Set up Tenantry" }).click();
    await page.waitForURL(/\/setup$/);
    await loaded(page);
    await shot(page, "21-setup");
    await page.getByLabel("Setup code").fill("AAAA-BBBB-CCCC");
    await page.getByLabel("Your email").fill("owner@example.com");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    await page.getByLabel("Workspace name").fill("Contoso MSP");
    await page.getByRole("button", { name: "Create account and workspace" }).click();
    await page.getByRole("alert").filter({ hasText: "not the setup code" }).waitFor();
    assert.equal(await page.getByLabel("Your email").inputValue(), "owner@example.com", "input kept");
    assert.equal(await page.getByLabel("Workspace name").inputValue(), "Contoso MSP", "input kept");
    assert.equal(await page.getByLabel("Password", { exact: true }).inputValue(), "", "never a password");
    assert.equal(await page.getByLabel("Setup code").getAttribute("aria-invalid"), "true");
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Password again").fill(PASSWORD);
    problems.length = 0; // that 400 was expected
    await page.getByLabel("Setup code").fill(code.toLowerCase());
    await page.getByRole("button", { name: "Create account and workspace" }).click();
    await page.waitForURL(/\/admin\?notice=setup_done$/);
    await page.getByRole("heading", { name: "Contoso MSP" }).waitFor();
    await shot(page, "21-setup-done");
    assert.deepEqual(problems, [], `browser problems:\n${problems.join("\n")}`);
    // Closed for good.
    const r = await page.goto(`${server.url}/setup`);
    assert.equal(r.status(), 404);
    await context.close();
  } finally {
    server.stop();
  }
});

test("the demo mails an invitation; its link opens the invitation", async ({ browser }) => {
  const demo = await startDemo();
  try {
    const mailbox = demo.output().match(/sent mail at (http:\/\/[^\s]+)/)?.[1];
    assert.ok(mailbox, `the demo printed no mailbox:\n${demo.output()}`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const problems = watch(page);
    await signInDemo(page, demo.url);
    await page.goto(`${demo.url}/admin/members`);
    await hydrated(page);
    await page.getByLabel("Email", { exact: true }).fill("new.tech@example.com");
    await page.getByLabel("Role", { exact: true }).selectOption("operator");
    await page.getByRole("button", { name: "Create invitation" }).click();
    await page.waitForURL(/\/admin\/members\?notice=invitation_mailed#invitations$/);
    // The in-process sender delivers within seconds; the page says so.
    let state = "";
    for (let i = 0; i < 40 && state !== "sent"; i++) {
      await page.reload();
      state = (await page.locator("[data-mail]").first().getAttribute("data-mail")) ?? "";
      if (state !== "sent") await page.waitForTimeout(250);
    }
    assert.equal(state, "sent");
    await shot(page, "21-invitation-mailed");
    const mail = await browser.newPage();
    await mail.goto(mailbox);
    const article = mail.locator("article").first();
    await article.waitFor();
    assert.match(await article.innerText(), /Subject: Join Demo MSP on Tenantry/);
    const body = await article.locator("pre").innerText();
    const link = body.match(/http:\/\/127\.0\.0\.1:\d+\/invite\/[0-9a-f]{64}/)?.[0];
    assert.ok(link, body);
    await shot(mail, "21-sent-mail");
    const invitee = await (await browser.newContext()).newPage();
    await invitee.goto(link);
    await invitee.getByRole("heading", { name: "Join Demo MSP" }).waitFor();
    assert.deepEqual(problems, [], `browser problems:\n${problems.join("\n")}`);
  } finally {
    demo.stop();
  }
});
