#!/usr/bin/env bash
# `npm test`: installs what is missing, brings the local stack up (vitest global setup), runs every suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec npx vitest run "$@"
