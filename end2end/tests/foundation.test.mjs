// Journey: sign in → create workspace → add tenant → invite a member, who
// accepts in their own browser → sign out,
// failing on any console error, hydration warning or failed request.
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import { startServer, watch, shot, hydrated, PASSWORD, loaded, accessibilityGate } from "./harness.mjs";

accessibilityGate();

let server;
let browser;

test.beforeAll(async ({ browser: runnerBrowser }) => {
  server = await startServer();
  // The first account comes from the command line as a platform operator:
  // on a server without --allow-workspace-creation only they create workspaces.
  server.createUser("ada@example.com", ["--platform-operator"]);
  server.createUser("grace@example.com");
  browser = runnerBrowser;
});

test.afterAll(async () => {
  server?.stop();
});

test("sign in, create a workspace, add a tenant and a member, sign out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems = watch(page);

  // Anonymous visitors are sent to sign in, and come back where they wanted to go.
  await page.goto(`${server.url}/admin/tenants`);
  assert.match(page.url(), /\/sign-in\?next=/);
  await loaded(page);
  await shot(page, "01-sign-in");

  // A wrong password shows the one generic message inline and keeps the email.
  await page.getByLabel("Email").fill("ada@example.com");
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Sign-in failed" }).waitFor();
  // Back on the page (no script): the email kept, the password field focused,
  // still on the way to where the visitor wanted to go.
  assert.equal(await page.getByLabel("Email").inputValue(), "ada@example.com");
  assert.equal(await page.evaluate(() => document.activeElement?.id), "password");
  assert.match(page.url(), /\/sign-in\?next=\/admin\/tenants$/);
  await loaded(page);
  // The failed sign-in is an expected 401, not a problem.
  problems.length = 0;

  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/admin\/tenants$/);
  await page.getByText("You are not in a workspace yet").waitFor();
  await shot(page, "02-no-workspace");

  // Create a workspace.
  await page.getByRole("link", { name: "Create a workspace" }).click();
  await page.waitForURL(/\/admin\/workspaces\/new$/);
  await hydrated(page);
  await page.getByLabel("Workspace name").fill("Contoso Managed Services");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.waitForURL(/\/admin\?notice=workspace_created$/);
  await page.getByRole("heading", { name: "Contoso Managed Services" }).waitFor();
  await shot(page, "03-overview");

  // Add a tenant; a bad GUID is explained next to its field first.
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Tenants" }).click();
  await page.waitForURL(/\/admin\/tenants$/);
  await hydrated(page);
  await page.getByLabel("Display name").fill("Fabrikam Ltd");
  await page.getByLabel("Microsoft tenant id").fill("fabrikam.onmicrosoft.com");
  await page.getByRole("button", { name: "Add tenant" }).click();
  await page.getByRole("alert").filter({ hasText: "GUID" }).waitFor();
  assert.equal(await page.getByLabel("Microsoft tenant id").getAttribute("aria-invalid"), "true");
  assert.equal(await page.getByLabel("Display name").inputValue(), "Fabrikam Ltd", "input kept");
  problems.length = 0; // the 400 above is expected
  await page.getByLabel("Microsoft tenant id").fill("72f988bf-86f1-41af-91ab-2d7cd011db47");
  await page.getByRole("button", { name: "Add tenant" }).click();
  await page.waitForURL(/\/admin\/t\/\d+\?notice=tenant_created$/);
  await page.getByRole("heading", { name: /Fabrikam Ltd/ }).waitFor();
  await shot(page, "04-tenant");

  // Invite a member: nobody joins without accepting.
  await page.getByRole("navigation", { name: "Workspace" }).getByRole("link", { name: "Members" }).click();
  await page.waitForURL(/\/admin\/members$/);
  await hydrated(page);
  await page.getByLabel("Email", { exact: true }).fill("grace@example.com");
  await page.getByLabel("Role", { exact: true }).selectOption("operator");
  await page.getByRole("button", { name: "Create invitation" }).click();
  await page.waitForURL(/\/admin\/members\?notice=invitation_created#invitations$/);
  const link = await page.getByLabel("Invitation link for grace@example.com").inputValue();
  assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/invite\/[0-9a-f]{64}$/);
  assert.equal(await page.getByRole("cell", { name: "grace@example.com", exact: true }).count(), 1, "listed as invited, not as a member");
  await shot(page, "05-invitation");

  // Grace opens the link in her own browser, signs in and accepts.
  const graceContext = await browser.newContext();
  const grace = await graceContext.newPage();
  const graceProblems = watch(grace);
  await grace.goto(link);
  await grace.getByRole("heading", { name: "Join Contoso Managed Services" }).waitFor();
  await shot(grace, "05b-invitation-landing");
  await grace.getByRole("link", { name: "Sign in as grace@example.com to accept" }).click();
  await grace.waitForURL(/\/sign-in\?next=/);
  await loaded(grace);
  await grace.getByLabel("Email").fill("grace@example.com");
  await grace.getByLabel("Password").fill(PASSWORD);
  await grace.getByRole("button", { name: "Sign in" }).click();
  await grace.waitForURL(/\/invite\/[0-9a-f]{64}$/);
  await hydrated(grace);
  await grace.getByRole("button", { name: "Accept and join" }).click();
  await grace.waitForURL(/\/admin\?notice=invitation_accepted$/);
  await grace.getByText("Welcome: you joined the workspace.").waitFor();
  assert.deepEqual(graceProblems, [], `browser problems (grace):\n${graceProblems.join("\n")}`);
  await graceContext.close();

  await page.reload();
  await page.getByRole("row").filter({ hasText: "grace@example.com" }).getByRole("button", { name: "Remove" }).waitFor();
  await shot(page, "05c-members");

  // Removing asks for confirmation first; cancelling keeps the member.
  await hydrated(page);
  const graceRow = page.getByRole("row").filter({ hasText: "grace@example.com" });
  await graceRow.getByRole("button", { name: "Remove" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  await shot(page, "06-confirm-remove");
  await dialog.getByRole("button", { name: "Cancel" }).click();
  await page.waitForTimeout(200);
  assert.equal(await page.getByRole("cell", { name: "grace@example.com", exact: true }).count(), 1);

  // Sign out from the user menu.
  await page.locator("summary", { hasText: "ada@example.com" }).click();
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/sign-in\?notice=signed_out$/);
  await page.getByText("You are signed out.").waitFor();
  await shot(page, "07-signed-out");

  // The session is gone: the planes send us back to sign in.
  await page.goto(`${server.url}/admin`);
  assert.match(page.url(), /\/sign-in\?next=/);

  assert.deepEqual(problems, [], `browser problems:\n${problems.join("\n")}`);
  await context.close();
});
