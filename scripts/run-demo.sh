#!/usr/bin/env bash
# `npm run demo`: installs what is missing, then runs the whole pipeline on generated data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec node bin/tributary.js demo "$@"
