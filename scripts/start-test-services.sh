#!/usr/bin/env bash
# Starts the services the test suite needs. Each room owns one script in scripts/setup.d/.
set -euo pipefail
cd "$(dirname "$0")/.."
for s in scripts/setup.d/*.sh; do
    [ -e "$s" ] || continue
    bash "$s"
done
