// What a first visit costs on the wire (issue 33, "light on the wire"): the
// sign-in page (HTML and the stylesheet: no script at all), then the first
// page after signing in and the islands' two files, as sent (brotli) and as
// they are; their caching; and the time until each is usable on a 4 Mbps /
// 150 ms link (Chromium's own network throttling). Prints figures; asserts
// only what is not a timing (encodings, caching, the byte budget).
import { test } from "@playwright/test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, watch, hydrated, checkAccessibility, PASSWORD, accessibilityGate } from "./harness.mjs";

accessibilityGate();

/// One GET, counting the bytes that crossed the wire (no decompression).
function wire(url, encoding, cookie) {
  return new Promise((ok, fail) => {
    const headers = encoding ? { "accept-encoding": encoding } : {};
    if (cookie) headers.cookie = cookie;
    http
      .get(url, { headers }, (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => ok({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      })
      .on("error", fail);
  });
}

const kB = (n) => `${(n / 1024).toFixed(1)} kB`;

test("a first visit is small, precompressed and cached by content", async ({ browser }) => {
  const server = await startServer();
  server.createUser("ada@example.com");
  try {
    // The sign-in page: HTML and the stylesheet, no script.
    const signIn = await wire(`${server.url}/sign-in`, "br, gzip");
    assert.equal(signIn.status, 200);
    assert.equal(signIn.headers["cache-control"], "no-store");
    const signInHtml = signIn.body.toString("utf8");
    const signInFiles = [...new Set(signInHtml.match(/\/pkg\/[0-9a-f]{16}\/tenantry(?:\.js|_bg\.wasm|\.css)/g) ?? [])];
    assert.deepEqual(
      signInFiles.map((f) => f.replace(/\/pkg\/[0-9a-f]+\//, "")),
      ["tenantry.css"],
      "the sign-in page loads the stylesheet and no script",
    );
    assert.ok(!signInHtml.includes("tenantry.js") && !signInHtml.includes('type="module"'), "no islands on the sign-in page");

    // Sign in (a browser), then read the first page's HTML as it is sent.
    const context = await browser.newContext();
    const tab = await context.newPage();
    const problems = watch(tab);
    await tab.goto(`${server.url}/sign-in`);
    await tab.getByLabel("Email").fill("ada@example.com");
    await tab.getByLabel("Password").fill(PASSWORD);
    await tab.getByRole("button", { name: "Sign in" }).click();
    await tab.waitForURL(/\/admin$/);
    await hydrated(tab);
    const cookie = (await context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const admin = await wire(`${server.url}/admin`, "br, gzip", cookie);
    assert.equal(admin.status, 200);
    const adminHtml = admin.body.toString("utf8");
    const files = [...new Set(adminHtml.match(/\/pkg\/[0-9a-f]{16}\/tenantry(?:\.js|_bg\.wasm|\.css)/g) ?? [])];
    assert.equal(files.length, 3, `the console names the three files under one key: ${files}`);
    assert.ok(files.includes(signInFiles[0]), "the same stylesheet, already cached");
    const rows = [
      ["sign-in page (HTML)", signIn.body.length, signIn.body.length],
      ["first page (HTML)", admin.body.length, admin.body.length],
    ];
    for (const file of files) {
      const sent = await wire(`${server.url}${file}`, "br, gzip");
      assert.equal(sent.status, 200, file);
      assert.equal(sent.headers["content-encoding"], "br", `${file} is sent as its brotli copy`);
      assert.equal(sent.headers["cache-control"], "public, max-age=31536000, immutable", file);
      const plain = await wire(`${server.url}${file}`);
      assert.equal(plain.headers["content-encoding"], undefined);
      rows.push([file.replace(/\/pkg\/[0-9a-f]+\//, ""), sent.body.length, plain.body.length]);
    }
    const sent = rows.reduce((n, r) => n + r[1], 0);
    const plain = rows.reduce((n, r) => n + r[2], 0);
    const signInSent = rows[0][1] + rows.find((r) => r[0] === "tenantry.css")[1];
    console.log("\nfirst visit (sign-in, then the first page), as sent / uncompressed:");
    for (const [name, s, p] of rows) console.log(`  ${name.padEnd(22)} ${kB(s).padStart(10)} / ${kB(p)}`);
    console.log(`  ${"total".padEnd(22)} ${kB(sent).padStart(10)} / ${kB(plain)}`);
    console.log(`  ${"of which sign-in".padEnd(22)} ${kB(signInSent).padStart(10)}`);
    assert.ok(sent <= 300 * 1024, `first load ${kB(sent)} compressed, budget 300 kB`);
    assert.deepEqual(problems, []);
    await context.close();

    // Time until usable on 4 Mbps down / 150 ms, a cold cache: the sign-in
    // form (no script: usable once loaded), then the console after signing
    // in (the islands hydrated), then the console again with the files cached.
    const cold = await browser.newContext();
    const page = await cold.newPage();
    const coldProblems = watch(page);
    const cdp = await cold.newCDPSession(page);
    await cdp.send("Network.enable");
    await cdp.send("Network.emulateNetworkConditions", {
      offline: false,
      latency: 150,
      downloadThroughput: (4 * 1024 * 1024) / 8,
      uploadThroughput: (1 * 1024 * 1024) / 8,
    });
    let started = Date.now();
    await page.goto(`${server.url}/sign-in`);
    const signInReady = Date.now() - started;
    await checkAccessibility(page);
    await page.getByLabel("Email").fill("ada@example.com");
    await page.getByLabel("Password").fill(PASSWORD);
    started = Date.now();
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/admin$/);
    await hydrated(page);
    const consoleReady = Date.now() - started;
    started = Date.now();
    await page.goto(`${server.url}/admin`);
    await hydrated(page);
    const warm = Date.now() - started;
    console.log(
      `  at 4 Mbps / 150 ms: sign-in usable in ${signInReady} ms (cold); the console interactive ${consoleReady} ms after "Sign in" (cold files), ${warm} ms with them cached\n`,
    );
    assert.deepEqual(coldProblems, []);
  } finally {
    server.stop();
  }
});
