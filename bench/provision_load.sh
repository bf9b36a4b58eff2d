#!/usr/bin/env bash
# Provisioning under load (issue 12): 1,000 provisions, 32 at a time, against every template
# on its embedded database and on Postgres; throughput, p50 and p99 into bench/RESULTS.md.
# Any failed request fails the run. Not part of CI (minutes per template).
#
#   bash bench/provision_load.sh                  every template, both databases
#   bash bench/provision_load.sh node sinatra     some templates
#   BENCH_DATABASES=postgres COUNT=5000 CONCURRENCY=64 WARMUP=200 bash bench/provision_load.sh
#
# Needs what the e2e run needs (README: the Debian packages of the templates, postgresql)
# and python3 3.11+. Builds kensa (release) unless KENSA names a binary; KENSA_TEMPLATES
# works as in e2e/run.sh. Everything runs in a temporary directory removed at the end, with
# the services and the Postgres server it starts.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=e2e/lib.sh
. "$root/e2e/lib.sh"
count=${COUNT:-1000}
concurrency=${CONCURRENCY:-32}
warmup=${WARMUP:-100}
read -r -a databases <<<"${BENCH_DATABASES:-embedded postgres}"
templates=("$@")
[ ${#templates[@]} -gt 0 ] || templates=(node sinatra clojure rust-axum)
results_md=$root/bench/RESULTS.md
load_py=$root/bench/provision_load.py

work=$(mktemp -d "${TMPDIR:-/tmp}/kensa-bench-load.XXXXXX")
cleanup() { stop_server; pg_stop; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
die() { echo "bench: $*" >&2; exit 1; }

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 3.11 or newer is needed"
if [ -n "${KENSA:-}" ]; then
  kensa=$KENSA
else
  say "cargo build --release"
  (cd "$root" && cargo build --release --locked --quiet) || die "cargo build failed"
  kensa=$root/target/release/kensa
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ " ${databases[*]} " == *" postgres "* ]]; then
  say "Postgres: a private server (default settings, fsync on)"
  pg_start || die "could not start a Postgres server (Debian: apt-get install postgresql)"
fi

results=()
missing=()
failed=0
for template in "${templates[@]}"; do
  for db in "${databases[@]}"; do
    label=$template/$db
    say "[$label] set up"
    dir=$work/$template-$db
    server_log=$work/$template-$db.server.log
    server_port=$(free_port)
    server_env=()
    if [ "$db" = postgres ]; then
      url=$(pg_fresh_database "bench_${template//-/_}") || die "could not create a database"
      server_env=("DATABASE_URL=$url")
    fi
    if ! "$kensa" create "$dir" --template "$(template_arg)" --id "bench-$template-$(printf %04x $RANDOM)" \
      --port "$server_port" --no-input >/dev/null; then
      echo "bench: [$label] kensa create failed" >&2; missing+=("$label"); failed=1; continue
    fi
    cd "$dir" || die "no $dir"
    release=$(procfile_line release)
    if ! install_deps >"$work/install.log" 2>&1; then
      tail -n 30 "$work/install.log" >&2
      echo "bench: [$label] installing the dependencies failed" >&2
      missing+=("$label"); failed=1; cd "$root"; continue
    fi
    if [ -n "$release" ] && ! run_procfile_process "$release" "${server_env[@]}" >"$work/release.log" 2>&1; then
      tail -n 30 "$work/release.log" >&2
      echo "bench: [$label] release: $release failed" >&2
      missing+=("$label"); failed=1; cd "$root"; continue
    fi
    if ! start_server "${server_env[@]}"; then
      tail -n 30 "$server_log" >&2
      echo "bench: [$label] the service did not start" >&2
      missing+=("$label"); failed=1; cd "$root"; continue
    fi
    say "[$label] $count provisions, $concurrency at a time (after $warmup warm-up)"
    out=$work/result-$template-$db.json
    (set -a; . ./.env; set +a
      python3 "$load_py" run "http://127.0.0.1:$server_port" "$label" "$out" \
        --count "$count" --concurrency "$concurrency" --warmup "$warmup") || {
      failed=1; echo "bench: [$label] requests failed; last lines of the service's log:" >&2
      tail -n 20 "$server_log" >&2; }
    [ -f "$out" ] && results+=("$out") || missing+=("$label")
    stop_server
    cd "$root" || exit 1
  done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

versions="kensa $("$kensa" --version | awk '{ print $2 }')"
for t in "${templates[@]}"; do
  case "$t" in
    node) versions+="; node $(node --version 2>/dev/null)" ;;
    sinatra) versions+="; $(ruby --version 2>/dev/null | awk '{ print $1, $2 }')" ;;
    clojure) versions+="; $(java -version 2>&1 | head -1 | tr -d '"')" ;;
    rust-axum) versions+="; $(rustc --version 2>/dev/null | awk '{ print $1, $2 }')" ;;
  esac
done
versions+="; $(python3 --version)"
pg_version=n/a
[ -z "${pg_bin:-}" ] || pg_version=$("$pg_bin/postgres" --version | awk '{ print $3 }')

python3 - "$work/machine.json" <<PY
import json, sys
json.dump({
  "date": "$(date -u '+%Y-%m-%d %H:%M UTC')",
  "cpu": "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)",
  "nproc": $(nproc),
  "mem": "$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)",
  "os": "$(uname -srm)",
  "postgres": "$pg_version",
  "count": $count, "concurrency": $concurrency, "warmup": $warmup,
  "load_before": "$load_before", "load_after": "$load_after",
  "versions": """$versions""",
  "missing": "${missing[*]}".split(),
}, open(sys.argv[1], "w"))
PY
if [ ${#results[@]} -gt 0 ]; then
  python3 "$load_py" report "$results_md" "$work/machine.json" "${results[@]}"
fi
[ "$failed" = 0 ] || die "some runs failed (see above)"
echo "bench: every request succeeded"
