#!/usr/bin/env bash
# Installs what Tenantry needs to build (and, with --browser, to run its
# browser tests). Idempotent and quiet when everything is already there.
# Nothing here downloads a prebuilt toolchain or browser: only crates.io,
# npm and Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
browser=false
[ "${1:-}" = "--browser" ] && browser=true
say() { echo "setup: $*"; }

command -v cargo >/dev/null || { echo "setup: cargo (Rust 1.95) is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "setup: node and npm are required" >&2; exit 1; }

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown >/dev/null
fi

# wasm-bindgen's CLI must match the wasm-bindgen crate in Cargo.lock exactly.
want=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/"/, "", $3); print $3; exit }' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$want" != "$have" ]; then
  say "installing wasm-bindgen-cli $want (a few minutes, once)"
  # Not --locked: its own lockfile names a crate version the registry lacks.
  cargo install --quiet wasm-bindgen-cli --version "$want"
fi

npm_install() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in $dir/"
    # No browser download (@playwright/test drives Debian's chromium).
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  fi
}
npm_install style

if $browser; then
  npm_install end2end
  if ! command -v chromium >/dev/null 2>&1; then
    say "installing Debian's chromium for the browser tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
  fi
  # A real Request Tracker 5 for the support-desk round trip (about a minute, once).
  if [ ! -x /usr/share/request-tracker5/libexec/rt-server ]; then
    say "installing Debian's Request Tracker 5 for the support desk test"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends request-tracker5 rt5-db-sqlite rt5-standalone >/dev/null
  fi
  # pg_dump / pg_restore for the backup and restore tests.
  if ! command -v pg_dump >/dev/null 2>&1; then
    say "installing PostgreSQL's client tools for the backup tests"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends postgresql-client >/dev/null
  fi
  # Supply-chain policy (deny.toml): licenses, bans, sources, advisories.
  if [ "$(cargo deny --version 2>/dev/null)" != "cargo-deny 0.20.2" ]; then
    say "installing cargo-deny (several minutes, once)"
    cargo install --quiet --locked cargo-deny@0.20.2
  fi
  if ! cargo nextest --version >/dev/null 2>&1; then
    say "installing cargo-nextest"
    cargo install --quiet cargo-nextest --locked
  fi
fi
