// What a first visit costs on the wire (issue 33, "light on the wire"): the
// sign-in page and the three files it loads, as sent (brotli) and as they
// are; their caching; and the time until the page is interactive on a
// 4 Mbps / 150 ms link (Chromium's own network throttling). Prints figures;
// asserts only what is not a timing (encodings, caching, the byte budget).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startServer, launch, watch, hydrated } from "./harness.mjs";

/// One GET, counting the bytes that crossed the wire (no decompression).
function wire(url, encoding) {
  return new Promise((ok, fail) => {
    const headers = encoding ? { "accept-encoding": encoding } : {};
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

test("a first visit is small, precompressed and cached by content", async () => {
  const server = await startServer();
  try {
    const page = await wire(`${server.url}/sign-in`, "br, gzip");
    assert.equal(page.status, 200);
    assert.equal(page.headers["cache-control"], "no-store");
    const html = page.body.toString("utf8");
    const files = [...new Set(html.match(/\/pkg\/[0-9a-f]{16}\/tenantry(?:\.js|_bg\.wasm|\.css)/g) ?? [])];
    assert.equal(files.length, 3, `the page names the three files under one key: ${files}`);
    const rows = [["sign-in page (HTML)", page.body.length, page.body.length]];
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
    console.log("\nfirst visit (sign-in), as sent / uncompressed:");
    for (const [name, s, p] of rows) console.log(`  ${name.padEnd(22)} ${kB(s).padStart(10)} / ${kB(p)}`);
    console.log(`  ${"total".padEnd(22)} ${kB(sent).padStart(10)} / ${kB(plain)}`);
    assert.ok(sent <= 300 * 1024, `first load ${kB(sent)} compressed, budget 300 kB`);

    // Time to interactive on 4 Mbps down / 150 ms, a cold cache.
    const browser = await launch();
    try {
      const context = await browser.newContext();
      const tab = await context.newPage();
      const problems = watch(tab);
      const cdp = await context.newCDPSession(tab);
      await cdp.send("Network.enable");
      await cdp.send("Network.emulateNetworkConditions", {
        offline: false,
        latency: 150,
        downloadThroughput: (4 * 1024 * 1024) / 8,
        uploadThroughput: (1 * 1024 * 1024) / 8,
      });
      const started = Date.now();
      await tab.goto(`${server.url}/sign-in`);
      await hydrated(tab);
      const tti = Date.now() - started;
      // The second visit: everything but the page itself from the cache.
      const again = Date.now();
      await tab.goto(`${server.url}/sign-in`);
      await hydrated(tab);
      const warm = Date.now() - again;
      console.log(`  time to interactive at 4 Mbps / 150 ms: ${tti} ms cold, ${warm} ms with the files cached\n`);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  } finally {
    server.stop();
  }
});
