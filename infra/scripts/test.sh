#!/usr/bin/env bash
# npm test: prepare (dependencies, redis-server, build), then every compiled test file with node's
# test runner. The exit code is the runner's.
#
#   npm test                                        every test
#   npm test -- services/store                      files whose source or compiled path contains a word
#   npm test -- services/ingest/test/records.test.ts store.test
#   npm test -- --test-name-pattern=CROSSSLOT       arguments starting with - go to node
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/ensure-deps.sh

# A compiled test whose source was deleted or renamed would still run (tsc never removes outputs).
while IFS= read -r js; do
  src="${js/\/dist\/test\//\/test\/}"
  [ -f "${src%.js}.ts" ] || rm -f "$js" "$js.map" "${js%.js}.d.ts" "${js%.js}.d.ts.map"
done < <(find services/*/dist/test -name '*.test.js' 2>/dev/null)

words=()
node_args=()
for arg in "$@"; do
  if [[ "$arg" == -* ]]; then node_args+=("$arg"); else words+=("$arg"); fi
done

files=()
while IFS= read -r js; do
  if [ "${#words[@]}" -gt 0 ]; then
    src="${js/\/dist\/test\//\/test\/}"
    src="${src%.js}.ts"
    match=""
    for word in "${words[@]}"; do
      if [[ "$js" == *"$word"* || "$src" == *"$word"* ]]; then match=1; break; fi
    done
    [ -n "$match" ] || continue
  fi
  files+=("$js")
done < <(find services/*/dist/test -name '*.test.js' 2>/dev/null | sort)

# A run that tests nothing must not pass.
if [ "${#files[@]}" -eq 0 ]; then
  if [ "${#words[@]}" -gt 0 ]; then
    say "no test files match: ${words[*]}"
  else
    say "no test files found (services/*/dist/test/**/*.test.js): did the build run?"
  fi
  exit 1
fi

say "running ${#files[@]} test files"
# Two files at a time: each starts its own redis-server(s) and processes, and fault tests time things.
# The per-test timeout is a backstop for a hang, well above the longest crash test.
exec node --test --test-concurrency=2 --test-timeout=300000 ${node_args[@]+"${node_args[@]}"} "${files[@]}"
