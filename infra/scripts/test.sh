#!/usr/bin/env bash
# npm test: prepare (dependencies, redis-server, build), then every test file with node's test runner.
#   npm test                      every test
#   npm test -- store ingest/test/records   only files whose path contains one of the words
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/ensure-deps.sh

# Compiled tests whose source was deleted must not run.
while IFS= read -r js; do
  src="${js/\/dist\/test\//\/test\/}"
  [ -f "${src%.js}.ts" ] || rm -f "$js" "$js.map" "${js%.js}.d.ts"
done < <(find services/*/dist/test -name '*.test.js' 2>/dev/null)

mapfile -t files < <(find services/*/dist/test -name '*.test.js' | sort)
if [ "$#" -gt 0 ]; then
  selected=()
  for f in "${files[@]}"; do
    for word in "$@"; do
      if [[ "$f" == *"$word"* ]]; then selected+=("$f"); break; fi
    done
  done
  files=("${selected[@]}")
fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "sluice: no test files found${1:+ matching $*}" >&2
  exit 1
fi
exec node --test --test-concurrency=2 --test-timeout=300000 "${files[@]}"
