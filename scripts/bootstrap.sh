#!/usr/bin/env bash
# Everything a fresh clone needs before `tributary` can run: Node dependencies (from the lock file)
# and the compiled CLI. The servers themselves (jars, PostgreSQL) are set up by `tributary stack up`.
set -euo pipefail
cd "$(dirname "$0")/.."

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "tributary needs Node.js 20 or newer (found $(node --version))" >&2
  exit 1
fi
for tool in java mvn; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "tributary needs '$tool' to run Kafka and Cassandra from Maven Central:" >&2
    echo "  Debian/Ubuntu: apt-get install openjdk-17-jre-headless maven" >&2
    exit 1
  fi
done

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
npm run --silent build
