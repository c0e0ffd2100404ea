#!/usr/bin/env bash
# Installs what Sluice needs and builds it; fast when everything is already there. Sourced by
# start-local.sh, test.sh and bench.sh (or run on its own). On a fresh Debian machine with Node >= 20
# and npm, this is the whole setup: redis-server comes from apt (as root, or with password-less sudo).
set -euo pipefail

SLUICE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$SLUICE_REPO"

say() { printf 'sluice: %s\n' "$*" >&2; }

# Node >= 20.12 (crypto.hash, stable node:test); the code also runs on 22 and 24.
if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=12)?0:1)'; then
  say "Node.js >= 20.12 is required, found $(node --version 2>/dev/null || echo none)"
  exit 1
fi

apt_updated=""
# ensure_apt_package COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is missing.
ensure_apt_package() {
  local cmd="$1" pkg="$2" sudo=""
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      sudo="sudo -n"
    else
      say "'$cmd' is missing. Install it with:  sudo apt-get update && sudo apt-get install -y $pkg"
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "'$cmd' is missing and this is not a Debian/Ubuntu machine: install the package that provides it ($pkg)."
    exit 1
  fi
  say "installing $pkg (for $cmd)…"
  if [ -z "$apt_updated" ]; then
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    apt_updated=1
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >&2
}

ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools
# The Kinesis tests drive the AWS CLI against the service.
ensure_apt_package aws awscli

# npm dependencies: install when node_modules is missing or a manifest changed since the last install.
stamp="node_modules/.sluice-deps-stamp"
needs_install=""
if [ ! -f "$stamp" ]; then
  needs_install=1
else
  for f in package.json package-lock.json services/*/package.json; do
    if [ -f "$f" ] && [ "$f" -nt "$stamp" ]; then needs_install=1; break; fi
  done
fi
if [ -n "$needs_install" ]; then
  say "installing npm dependencies…"
  if [ -f package-lock.json ] && [ ! -d node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error >&2
  else
    npm install --no-audit --no-fund --loglevel=error >&2
  fi
  touch "$stamp"
fi

# Build (incremental: about a second when nothing changed).
npx --no-install tsc --build
