#!/usr/bin/env bash
# Installs what Sluice needs and builds it; idempotent, and about a second when everything is there.
# Sourced by start-local.sh, test.sh and bench.sh (or run on its own). On a fresh Debian machine with
# Node >= 20.12 and npm this is the whole setup: system packages come from apt (as root, or through
# password-less sudo), npm packages from package-lock.json.
#
# Later needs add one line each below: ensure_apt_package <command> <debian package>.
set -euo pipefail

SLUICE_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$SLUICE_REPO"

say() { printf 'sluice: %s\n' "$*" >&2; }

# --- Node.js ----------------------------------------------------------------------------------
# 20.12 is the oldest Node with everything the code and tests use (node:test's runner options,
# crypto.hash); 22 and 24 work too.
if ! command -v node >/dev/null 2>&1 ||
  ! node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 12) ? 0 : 1)'; then
  say "Node.js >= 20.12 is required; found $(node --version 2>/dev/null || echo 'no node on PATH'). See https://nodejs.org/en/download"
  exit 1
fi
if ! command -v npm >/dev/null 2>&1; then
  say "npm is missing (it ships with Node.js); install Node.js >= 20.12 with npm"
  exit 1
fi

# --- system packages --------------------------------------------------------------------------
sluice_apt_updated=""
# ensure_apt_package COMMAND PACKAGE: installs PACKAGE with apt-get unless COMMAND is on PATH.
ensure_apt_package() {
  local cmd="$1" pkg="$2"
  local -a as_root=()
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      say "'$cmd' is missing and installing it needs root. Run:"
      say "  sudo apt-get update && sudo apt-get install -y $pkg"
      say "then run this again."
      exit 1
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "'$cmd' is missing and this machine has no apt-get: install the package that provides it ($pkg on Debian)."
    exit 1
  fi
  say "installing $pkg (for $cmd)…"
  # Non-interactive even outside CI: no debconf prompt may stall a test run. The lock timeout waits
  # out unattended-upgrades, which holds the dpkg lock for a while after a fresh machine boots.
  if [ -z "$sluice_apt_updated" ]; then
    ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2
    sluice_apt_updated=1
  fi
  ${as_root[@]+"${as_root[@]}"} env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "$pkg" >&2
  if ! command -v "$cmd" >/dev/null 2>&1; then
    say "installed $pkg but '$cmd' is still not on PATH"
    exit 1
  fi
}

# Every test that touches Redis starts its own redis-server (testkit); clusters need redis-cli.
ensure_apt_package redis-server redis-server
ensure_apt_package redis-cli redis-tools
# The Kinesis tests drive the AWS CLI against the service.
ensure_apt_package aws awscli

# --- npm dependencies -------------------------------------------------------------------------
# Installed when node_modules is missing or a manifest changed since the last install (the stamp).
stamp="node_modules/.sluice-deps-stamp"
needs_install=""
if [ ! -d node_modules ] || [ ! -f "$stamp" ]; then
  needs_install=1
else
  for f in package.json package-lock.json services/*/package.json; do
    if [ -f "$f" ] && [ "$f" -nt "$stamp" ]; then
      needs_install=1
      break
    fi
  done
fi
if [ -n "$needs_install" ]; then
  if [ -f package-lock.json ] && [ ! -d node_modules ]; then
    # A fresh checkout: exactly the locked versions.
    say "installing npm dependencies (npm ci)…"
    npm ci --no-audit --no-fund --loglevel=error >&2
  else
    say "installing npm dependencies (npm install: a manifest changed)…"
    npm install --no-audit --no-fund --loglevel=error >&2
  fi
  # After the install, which may itself rewrite package-lock.json.
  touch "$stamp"
fi

# --- build ------------------------------------------------------------------------------------
# Incremental: about a second when nothing changed.
if ! npx --no-install tsc --build; then
  say "the TypeScript build failed (see above)"
  exit 1
fi
