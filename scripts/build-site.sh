#!/usr/bin/env bash
# Builds the browser half of Tenantry into target/site/pkg:
#   tenantry.js + tenantry_bg.wasm (the islands, via wasm-bindgen) and tenantry.css (Tailwind).
# This replaces cargo-leptos's front-end step with three plain commands (see README, "Build recipe").
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
site=target/site
mkdir -p "$site/pkg"

cargo build --quiet -p frontend --lib --target wasm32-unknown-unknown --profile wasm-release
wasm-bindgen --target web --no-typescript --out-name tenantry --out-dir "$site/pkg" \
  "$target_dir/wasm32-unknown-unknown/wasm-release/frontend.wasm"
if command -v wasm-opt >/dev/null 2>&1; then
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    "$site/pkg/tenantry_bg.wasm" -o "$site/pkg/tenantry_bg.wasm"
fi
(cd style && npx --no-install tailwindcss -c tailwind.config.js -i input.css -o "../$site/pkg/tenantry.css" --minify 2>/dev/null)
