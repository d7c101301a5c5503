#!/usr/bin/env bash
# `npm run bench <name> [-- --records N]`: installs what is missing, then runs the benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec node dist/scripts/bench/main.js "$@"
