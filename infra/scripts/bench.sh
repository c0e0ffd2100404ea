#!/usr/bin/env bash
# npm run bench: prepare like npm test (dependencies, Redis, build), then the side-by-side benchmark.
set -euo pipefail
cd "$(dirname "$0")/../.."
source infra/scripts/ensure-deps.sh
exec node services/bench/dist/src/run.js "$@"
