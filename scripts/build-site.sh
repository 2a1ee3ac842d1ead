#!/usr/bin/env bash
# Builds the browser half of Tenantry into target/site/pkg:
#   tenantry.js + tenantry_bg.wasm (the islands, via wasm-bindgen, shrunk by wasm-opt) and
#   tenantry.css (Tailwind), each with brotli and gzip copies; sizes in sizes.txt.
# This replaces cargo-leptos's front-end step with three plain commands (see README, "Build recipe").
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
site=target/site
mkdir -p "$site/pkg"

cargo build --quiet -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
wasm-bindgen --target web --no-typescript --out-name tenantry --out-dir "$site/pkg" \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
# Binaryen's wasm-opt (the npm package, plain JavaScript + wasm: no download
# at build time) shrinks the islands further; a wasm-opt on PATH also does.
wasm_opt=style/node_modules/.bin/wasm-opt
[ -x "$wasm_opt" ] || wasm_opt=$(command -v wasm-opt || true)
if [ -n "$wasm_opt" ]; then
  "$wasm_opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-reference-types --enable-multivalue --enable-mutable-globals \
    "$site/pkg/tenantry_bg.wasm" -o "$site/pkg/tenantry_bg.wasm"
fi
(cd style && npx --no-install tailwindcss -c tailwind.config.js -i input.css -o "../$site/pkg/tenantry.css" --minify 2>/dev/null)
# Brotli and gzip copies beside each file, sent as they are (see server/src/assets.rs).
node scripts/precompress.mjs "$site/pkg" >"$site/pkg/sizes.txt"
