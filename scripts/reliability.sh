#!/usr/bin/env bash
# The reliability suite (specs/008-operability.md), long mode: the kill -9
# soak (serve + 2 workers on PostgreSQL, 1,440 runs, a SIGKILL every 2 s), a
# 20 s PostgreSQL outage under load, 300 generated bodies per server
# function, and hundreds of slow clients. Each prints its figures.
#
#   scripts/reliability.sh          # long mode (about 10 minutes)
#   scripts/reliability.sh --short  # what every .ci/run runs (about a minute)
#
# Needs PostgreSQL at 127.0.0.1:5432 (or TENANTRY_TEST_PG).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tenantry/target}"
if [ "${1:-}" = "--short" ]; then
  unset TENANTRY_RELIABILITY
else
  export TENANTRY_RELIABILITY=full
fi
exec cargo nextest run --no-fail-fast --test integration \
  --status-level fail --final-status-level fail --success-output immediate \
  -E 'test(/^reliability::/)'
