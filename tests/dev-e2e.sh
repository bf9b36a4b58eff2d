#!/usr/bin/env bash
# kensa dev end to end: against the node template (its npm packages installed from the npm
# registry), then the console in headless Chromium. Needs node and npm, python3, and
# Debian's chromium (apt-get install nodejs npm chromium); a missing one fails the run with
# what to install, it is never skipped. Screenshots: target/console-screenshots/.
# Usage: bash tests/dev-e2e.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

missing() { echo "dev-e2e: $1 is missing: $2" >&2; exit 1; }
command -v node >/dev/null || missing node "install Node.js 20+ (apt-get install nodejs npm)"
command -v npm >/dev/null || missing npm "install npm (apt-get install npm)"
export CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || missing chromium "install Debian's chromium (apt-get install chromium) or set CHROMIUM"

cargo build --locked --quiet
export KENSA="${CARGO_TARGET_DIR:-$root/target}/debug/kensa" # CI keeps its target dir in the user cache
work="$root/target/dev-e2e"
mkdir -p "$work"

# The node template's npm packages, installed once into a project kensa generates; every
# test project links to them.
deps="$work/node-deps"
rm -rf "$deps"
"$KENSA" create "$deps" --template node --no-input >/dev/null
(cd "$deps" && npm install --no-audit --no-fund --loglevel=error --no-package-lock)
export KENSA_DEV_NODE_MODULES="$deps/node_modules"

cargo test --locked --test dev_node

# The console in Chromium: playwright-core only (it never downloads a browser).
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
(cd tests/console && npm install --no-audit --no-fund --loglevel=error --no-package-lock)
export SCREENSHOTS="$root/target/console-screenshots"
node --test tests/console/console.test.mjs
echo "dev-e2e: screenshots in $SCREENSHOTS"
