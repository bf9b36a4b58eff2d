#!/usr/bin/env bash
# Benchmark `kensa create` for every embedded template, with `kensa --version` as the floor
# (process start-up alone). Builds the release binary, times each command with hyperfine
# (the target directory is removed before every run, so each run creates a fresh project),
# prints the medians and writes them to bench/RESULTS.md.
#
#   bash bench/create.sh            # 30 runs per command after 3 warm-ups
#   RUNS=100 bash bench/create.sh
#
# Needs hyperfine (Debian/Ubuntu: `apt-get install hyperfine`) and jq (`apt-get install jq`).
# Speed is measured here only, never with timing asserts in the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

for tool in hyperfine jq; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "bench/create.sh: $tool is missing; install it with: apt-get install $tool" >&2
    exit 1
  fi
done
runs="${RUNS:-30}"

cargo build --release --locked
kensa="$PWD/target/release/kensa"

work="$(mktemp -d "${TMPDIR:-/tmp}/kensa-bench.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# Uncoloured because stdout is not a terminal: the first column is the template name.
mapfile -t templates < <("$kensa" templates | awk '{ print $1 }')

load="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"
args=(--shell=none --warmup 3 --runs "$runs" --prepare "rm -rf $work/p"
  --export-json "$work/results.json")
for t in "${templates[@]}"; do
  args+=("--command-name=kensa create <tmp>/p --template $t --no-input"
    "$kensa create $work/p --template $t --no-input")
done
args+=("--command-name=kensa --version" "$kensa --version")
hyperfine "${args[@]}"

# Seconds → milliseconds with two decimals.
ms='def ms: (. * 100000 | round) as $x | "\($x / 100 | floor).\($x % 100 | tostring | if length < 2 then "0" + . else . end)";'

results=bench/RESULTS.md
{
  echo "# kensa create: benchmark results"
  echo
  echo "Written by \`bash bench/create.sh\`: \`kensa create <tmp>/p --template T --no-input\`"
  echo "into a fresh directory (removed before each run by hyperfine's \`--prepare\`), and"
  echo "\`kensa --version\` for process start-up alone. Release build, $runs runs after 3 warm-ups."
  echo
  echo "| command | median ms | min ms | max ms | runs |"
  echo "|---|---:|---:|---:|---:|"
  jq -r "$ms"'.results[] | "| `\(.command)` | \(.median | ms) | \(.min | ms) | \(.max | ms) | \(.times | length) |"' \
    "$work/results.json"
  echo
  echo "Machine: $(nproc) CPUs (\`nproc\`), $(uname -sm), load average before the run" \
    "$load; $("$kensa" --version); $(hyperfine --version); $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "The machine was shared with other builds, so treat single-digit differences as noise."
} >"$results"

echo
echo "Medians (ms):"
jq -r "$ms"'.results[] | "  \(.command): \(.median | ms)"' "$work/results.json"
echo "Wrote $results"
