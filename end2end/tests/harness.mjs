// Shared helpers for the browser journeys: start a real `tenantry serve` on a
// fresh SQLite database, drive Debian's Chromium, and fail on any console
// error, hydration warning or failed request.
import { spawn, spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import net from "node:net";
import { test } from "@playwright/test";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const ARTIFACTS = join(ROOT, "end2end", "artifacts");
export const PASSWORD = "correct horse battery staple";
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/// Every serious or critical accessibility violation any page of this file's
/// journeys showed (a journey that clears its `problems` does not clear these):
/// the file fails if there is one (see `accessibilityGate`).
const accessibilityFindings = [];
const accessibilityChecked = new Set();

/// Fails the file, after its last test, if any page it loaded had a serious
/// or critical accessibility violation. Each journey file calls it once
/// (`demoSuite` does); the worker runs files one after another, so the
/// findings and the pages already checked start afresh for the next file.
export function accessibilityGate() {
  test.afterAll(() => {
    const found = accessibilityFindings.splice(0);
    accessibilityChecked.clear();
    if (found.length > 0) throw new Error(`accessibility (axe-core, serious or critical):\n${found.join("\n")}`);
  });
}

/// Takes back the file's findings that match `pattern` (a journey that planted
/// a violation on purpose, to prove the check sees it); answers how many.
export function withdrawAccessibilityFindings(pattern) {
  const kept = accessibilityFindings.filter((f) => !pattern.test(f));
  const withdrawn = accessibilityFindings.length - kept.length;
  accessibilityFindings.splice(0, accessibilityFindings.length, ...kept);
  return withdrawn;
}

/// Runs axe-core on the page as it is now and records each serious or critical
/// violation (in `problems` when given, and for the file). A page is checked once
/// per address and `state` (e.g. "dark", "menu open").
export function checkAccessibility(page, problems, state = "") {
  // One axe run at a time per page (axe refuses a second while one runs).
  const queue = (accessibilityQueues.get(page) ?? Promise.resolve()).then(() => checkNow(page, problems, state));
  accessibilityQueues.set(page, queue.catch(() => {}));
  return queue;
}
const accessibilityQueues = new WeakMap();

async function checkNow(page, problems, state) {
  const url = new URL(page.url());
  const key = `${url.pathname}${url.search}#${state}`;
  if (url.protocol !== "http:" || accessibilityChecked.has(key)) return;
  accessibilityChecked.add(key);
  let violations;
  try {
    violations = await page.evaluate(async (source) => {
      // Only Tenantry's pages (not the test's identity provider or a simulator's).
      if (!document.querySelector('link[rel="stylesheet"][href$="/tenantry.css"]')) return [];
      if (!window.axe) (0, eval)(source);
      const result = await window.axe.run(document, { resultTypes: ["violations"] });
      return result.violations
        .filter((v) => v.impact === "serious" || v.impact === "critical")
        .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(" ")) }));
    }, AXE_SOURCE);
  } catch (err) {
    // The journey navigated away while axe ran: the next load checks again.
    accessibilityChecked.delete(key);
    if (/context was destroyed|Target .* closed|navigat/i.test(String(err))) return;
    throw err;
  }
  for (const v of violations) {
    const line = `${v.impact} ${v.id} on ${url.pathname}${state ? ` (${state})` : ""}: ${v.help} — ${v.nodes.join(", ")}`;
    accessibilityFindings.push(line);
    problems?.push(`accessibility: ${line}`);
  }
}
const BIN = process.env.TENANTRY_BIN ?? join(ROOT, "target", "debug", "tenantry");

export function freePort() {
  return new Promise((ok, fail) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
    srv.on("error", fail);
  });
}

export async function startServer({ extraArgs = [], extraEnv = {}, port: fixedPort } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "tenantry-e2e-"));
  const databaseUrl = `sqlite://${join(dir, "e2e.db")}`;
  const port = fixedPort ?? (await freePort());
  const env = { ...process.env, DATABASE_URL: databaseUrl, TENANTRY_DATA_DIR: dir, RUST_LOG: "warn", ...extraEnv };
  const createUser = (email, extra = []) => {
    const r = spawnSync(BIN, ["user", "create", "--email", email, "--password-stdin", ...extra], {
      input: PASSWORD + "\n",
      env,
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`user create ${email} failed: ${r.stderr}`);
  };
  const child = spawn(BIN, ["serve", "--bind", `127.0.0.1:${port}`, "--site-root", join(ROOT, "target", "site"), ...extraArgs], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`tenantry exited: ${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    createUser,
    output: () => output,
    stop: () => child.kill("SIGTERM"),
  };
}

async function waitHealthy(url, child, output) {
  for (let i = 0; i < 150; i++) {
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`tenantry exited: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tenantry did not become healthy: ${output()}`);
}

/// `tenantry demo` exactly as README command (a) runs it, on a fresh directory:
/// SQLite, the in-process Graph simulator and the seeded workspace.
export async function startDemo(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), "tenantry-demo-"));
  const port = await freePort();
  const child = spawn(
    BIN,
    ["demo", "--bind", `127.0.0.1:${port}`, "--demo-database-url", `sqlite://${join(dir, "demo.db")}`, "--data-dir", dir, "--site-root", join(ROOT, "target", "site"), ...extraArgs],
    { env: { ...process.env, RUST_LOG: "warn" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child, () => output);
  // The server answers before the demo has seeded and printed its banner
  // (the simulators' addresses): wait for the banner's last line.
  for (let i = 0; i < 300 && !output.includes("Press Ctrl-C"); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  if (!output.includes("Press Ctrl-C")) throw new Error(`the demo printed no banner:\n${output}`);
  const sim = output.match(/Microsoft Graph simulator at (http:\/\/[^\s:]+:\d+)/)?.[1];
  /// Switches a demo tenant's simulated Graph behaviour (e.g. `{ kind: "slow", delay_ms: 5000 }`).
  const fault = async (entraTenantId, body) => {
    const r = await fetch(`${sim}/_sim/tenants/${entraTenantId}/fault`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (r.status !== 204) throw new Error(`simulator fault: HTTP ${r.status}`);
  };
  const desk = output.match(/HaloPSA simulator \(support desk\) at (http:\/\/[^\s;]+)/)?.[1];
  /// Makes the simulated support desk misbehave (e.g. `{ kind: "server_error" }`).
  const deskFault = async (body) => {
    const r = await fetch(`${desk}/_sim/fault`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    if (r.status !== 204) throw new Error(`desk fault: HTTP ${r.status}`);
  };
  /// The tickets the simulated desk accepted.
  const deskTickets = async () => (await fetch(`${desk}/_sim/tickets`)).json();
  /// The demo's webhook receiver: its page, and what it received (with each signature's check).
  const receiver = output.match(/webhook receiver at (http:\/\/[^\s]+\/)/)?.[1];
  const received = async () => (await fetch(`${receiver}received`)).json();
  return { url, sim, fault, deskFault, deskTickets, receiver, received, output: () => output, stop: () => child.kill("SIGTERM") };
}

/// One `tenantry demo` for a journey file, started before its first test and
/// stopped after its last, and the runner's browser (its contexts get traces
/// and screenshots on failure). Read them as `env.demo`, `env.browser`.
export function demoSuite(extraArgs = []) {
  const env = { demo: undefined, browser: undefined };
  test.beforeAll(async ({ browser }) => {
    env.browser = browser;
    env.demo = await startDemo(extraArgs);
  });
  test.afterAll(() => {
    env.demo?.stop();
  });
  accessibilityGate();
  return env;
}

/// Signs in as the demo owner (README command (a)'s account).
export async function signInDemo(page, url) {
  await page.goto(`${url}/sign-in`);
  await loaded(page);
  await page.getByLabel("Email").fill("demo@tenantry.local");
  await page.getByLabel("Password").fill("tenantry-demo-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/admin$/);
}

/// Records console errors/warnings, page errors and failed requests.
export function watch(page) {
  const problems = [];
  // Every page a journey loads gets the accessibility check (see checkAccessibility).
  page.on("load", () => {
    checkAccessibility(page, problems).catch((err) => problems.push(`accessibility check failed: ${err.message}`));
  });
  page.on("console", (msg) => {
    if (msg.type() === "error" || msg.type() === "warning") problems.push(`console ${msg.type()}: ${msg.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
  page.on("requestfailed", (req) => {
    // ERR_ABORTED is the browser cancelling a request because the journey
    // navigated away (a live island's refresh in flight, a module still
    // loading); nothing of ours aborts requests, so it is not a failure.
    if (req.failure()?.errorText === "net::ERR_ABORTED") return;
    problems.push(`request failed: ${req.url()} ${req.failure()?.errorText}`);
  });
  page.on("response", (res) => {
    if (res.status() >= 500 || (res.status() === 404 && !res.url().includes("/no-such"))) {
      problems.push(`HTTP ${res.status()} for ${res.url()}`);
    }
  });
  return problems;
}

export async function shot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}

/// A page without script (sign-in, its second step, setup): loaded is
/// usable; it gets the accessibility check and must not load the islands.
export async function loaded(page) {
  await page.waitForLoadState("load");
  // Leptos's inline bytes for resources stay; no file of script, no module, no wasm.
  const scripts = await page.evaluate(() => document.querySelectorAll("script[src], script[type=module], link[rel=modulepreload], link[href$='.wasm']").length);
  if (scripts !== 0) throw new Error(`${page.url()} loads ${scripts} script file(s); it should load none`);
  await checkAccessibility(page);
}

/// Waits until every island on the page has hydrated (its form has a submit listener).
export async function hydrated(page) {
  await page.waitForFunction(() => typeof window.__hydrateIsland === "function", null, { timeout: 15000 });
  // Islands hydrate right after the module loads; give the idle callback a tick.
  await page.waitForTimeout(150);
  await checkAccessibility(page);
}

/// Opens a demo tenant's dashboard from the tenant list, hydrated.
export async function tenantDashboard(page, url, name) {
  await page.goto(`${url}/admin/tenants`);
  await page.getByRole("link", { name }).click();
  await page.waitForURL(/\/admin\/t\/\d+$/);
  await hydrated(page);
}

/// Starts tenant verification from a dashboard's readiness table; answers
/// the toast's title and the run it links to.
export async function startVerification(page) {
  const row = page.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "Tenant verification", exact: true }) });
  await row.getByRole("button", { name: "Start tenant verification" }).click();
  const toast = row.getByRole("status");
  await toast.locator(".toast-title").waitFor();
  const title = await toast.locator(".toast-title").innerText();
  const href = await toast.getByRole("link").first().getAttribute("href");
  return { title, href };
}

/// Plays the authenticator app: the RFC 6238 code (SHA-1, six digits, 30 s)
/// of a base32 key as Tenantry shows it (groups of four), at `atMs`.
export function totp(key, atMs = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = 0;
  let value = 0;
  const bytes = [];
  for (const c of key.replace(/[\s=]/g, "").toUpperCase()) {
    const v = alphabet.indexOf(c);
    if (v < 0) throw new Error(`not base32: ${c}`);
    value = (value << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(atMs / 30000)));
  const h = createHmac("sha1", Buffer.from(bytes)).update(counter).digest();
  const o = h[h.length - 1] & 15;
  const n = (((h[o] & 127) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1000000;
  return String(n).padStart(6, "0");
}

/// The suite's OpenID Provider (`end2end/oidc-provider.mjs`) on `port`, for
/// a Tenantry whose callback is `redirectUri`. Answers `stop()`.
export async function startOpenIdProvider(port, redirectUri, clientSecret) {
  const child = spawn(
    process.execPath,
    [join(ROOT, "end2end", "oidc-provider.mjs"), "--port", String(port), "--client-id", "tenantry", "--client-secret", clientSecret, "--redirect-uri", redirectUri],
    { cwd: join(ROOT, "end2end"), stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  for (let i = 0; i < 200 && !output.includes("OpenID Provider at"); i++) {
    if (child.exitCode !== null) throw new Error(`the OpenID Provider exited: ${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!output.includes("OpenID Provider at")) throw new Error(`the OpenID Provider did not start: ${output}`);
  return { url: `http://127.0.0.1:${port}`, stop: () => child.kill("SIGTERM") };
}
