#!/usr/bin/env bash
# Builds the web client into web/dist (embedded by the server binary) when
# its sources are newer than the last build.
set -euo pipefail
cd "$(dirname "$0")/../web"
stamp=dist/index.html
if [ -f "$stamp" ] && [ -z "$(find src index.html admin.html package-lock.json vite.config.ts tsconfig.json public -newer "$stamp" 2>/dev/null | head -1)" ]; then
  exit 0
fi
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
