#!/usr/bin/env bash
# README command (b): the whole test suite. Rust tests on SQLite and
# PostgreSQL (127.0.0.1:5432), lints, and the browser journeys in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
stamp() { echo "== $* ($(( $(date +%s) - started )) s)"; }

stamp "setup"
scripts/setup.sh --browser

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432; trying to start it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
# Databases left behind by an interrupted earlier run.
if command -v psql >/dev/null 2>&1; then
  for db in $(psql -h 127.0.0.1 -U postgres -d test -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'tenantry_t_%'" 2>/dev/null || true); do
    psql -h 127.0.0.1 -U postgres -d test -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
fi

stamp "format and lints"
cargo fmt --all --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet -p frontend --target wasm32-unknown-unknown -- -D warnings

stamp "supply chain (cargo deny)"
cargo deny --log-level error check licenses bans sources
# Advisories need the RustSec database from github.com; where it cannot be
# fetched (this kind of machine reaches only package registries) say so
# instead of failing; where it can, any advisory fails the run.
if advisories=$(timeout 180 cargo deny --log-level error check advisories 2>&1); then
  echo "cargo deny: advisories ok"
elif grep -q "failed to fetch advisory database" <<<"$advisories"; then
  echo "cargo deny: advisories NOT checked: the RustSec database (github.com) is unreachable from this machine"
else
  echo "$advisories"
  exit 1
fi

stamp "build the site (wasm, JS, CSS)"
scripts/build-site.sh

stamp "production binary (no demo, no benchmarks)"
# `--no-default-features --features otlp` leaves the simulators and
# benchmarks out (and keeps trace export); built once here to prove it still
# builds (the tests below rebuild with them).
cargo build --quiet -p server --no-default-features --features otlp
prod_dir=${CARGO_TARGET_DIR:-target}
if "$prod_dir/debug/tenantry" --help | grep -qE "^  (demo|bench) "; then
  echo "the production binary still carries the demo or the benchmarks" >&2
  exit 1
fi
if ! "$prod_dir/debug/tenantry" serve --help | grep -q -- "--otlp-endpoint"; then
  echo "the production binary lost --otlp-endpoint" >&2
  exit 1
fi

stamp "Rust tests (SQLite and PostgreSQL)"
cargo nextest run --no-fail-fast --status-level fail --final-status-level fail

stamp "browser journeys (Chromium)"
# The integration tests already built the binary (same features, no rebuild).
target_dir=${CARGO_TARGET_DIR:-target}
export TENANTRY_BIN="$PWD/$target_dir/debug/tenantry"
case "$target_dir" in /*) export TENANTRY_BIN="$target_dir/debug/tenantry" ;; esac
# @playwright/test with Debian's Chromium (end2end/playwright.config.mjs): a
# failed journey leaves its trace and screenshot in end2end/artifacts/results/
# and the HTML report in end2end/artifacts/report/.
(cd end2end && node_modules/.bin/playwright test)

stamp "all green"
