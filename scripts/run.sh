#!/usr/bin/env bash
# README command (a): install what is missing, build, and start the demo on
# its embedded SQLite database at http://127.0.0.1:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "build: compiling Tenantry (the first build takes several minutes)…"
scripts/build-site.sh
cargo build --quiet -p server
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/debug/tenantry" demo --site-root target/site "$@"
