// Writes brotli (.br) and gzip (.gz) copies of the site's files beside them,
// at the highest settings (once per build, so the server never compresses on
// a request). Usage: node scripts/precompress.mjs target/site/pkg
// Prints each file's size as sent: plain, gzip, brotli.
import { readFileSync, writeFileSync, rmSync, existsSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, gzipSync, constants } from "node:zlib";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: precompress.mjs <pkg dir>");
  process.exit(2);
}
const files = ["tenantry.js", "tenantry_bg.wasm", "tenantry.css"];
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;
for (const name of files) {
  const path = join(dir, name);
  // A stale copy must never outlive the file it was made from.
  rmSync(`${path}.br`, { force: true });
  rmSync(`${path}.gz`, { force: true });
  if (!existsSync(path)) continue;
  const plain = readFileSync(path);
  const br = brotliCompressSync(plain, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: plain.length,
    },
  });
  const gz = gzipSync(plain, { level: 9 });
  writeFileSync(`${path}.br`, br);
  writeFileSync(`${path}.gz`, gz);
  console.log(`${name}: ${kb(plain.length)} plain, ${kb(gz.length)} gzip, ${kb(br.length)} brotli`);
}
