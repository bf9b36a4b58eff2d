#!/usr/bin/env bash
# Every kensa benchmark, in one run on one machine (issue 7), written to bench/RESULTS.md:
#
#   1. start-up: `kensa --version`;
#   2. `kensa create` for each embedded template, against cookiecutter rendering the same
#      tree from a cookiecutter template this script builds from ours (bench/helpers.py);
#   3. `kensa test all` against the node template, installed and started locally;
#   4. `kensa create` from generated local templates of 1,000, 5,000 and 10,000 small files,
#      with `cp -r` of the same tree as the floor, on disk and on tmpfs.
#
#   bash bench/run.sh
#   RUNS=100 CC_RUNS=20 bash bench/run.sh       # more runs (defaults below)
#   STRICT=1 bash bench/run.sh                  # exit 1 when a goal is missed
#   LOAD_WAIT=600 bash bench/run.sh             # first wait (at most 600 s) for a quiet machine
#
# Needs: a Rust toolchain, python3 (3.11+, with venv), hyperfine (installed with apt-get
# when missing and possible), node and npm for part 3 (skipped, and said so, without them).
# cookiecutter is installed with pip into bench/.venv (or $KENSA_BENCH_VENV) on first use.
# Everything else lives in one temporary directory, removed on exit with the local
# provider it starts. Speed is measured here only, never with timing asserts in the tests.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-50}                # kensa create, per template
cc_runs=${CC_RUNS:-15}          # cookiecutter, per template
startup_runs=${STARTUP_RUNS:-200}
test_runs=${TEST_RUNS:-20}      # kensa test all
scale_runs=${SCALE_RUNS:-8}     # per size and filesystem
sizes=${SIZES:-"1000 5000 10000"}
venv=${KENSA_BENCH_VENV:-$root/bench/.venv}
results=$root/bench/RESULTS.md
helpers=$root/bench/helpers.py

work=$(mktemp -d "${TMPDIR:-/tmp}/kensa-bench.XXXXXX")
server_pid=

# Stops the local provider (its whole process group): TERM, then KILL after 10 s.
stop_server() {
  [ -n "${server_pid:-}" ] || return 0
  kill -TERM -- "-$server_pid" 2>/dev/null || true
  local i
  for i in $(seq 20); do kill -0 -- "-$server_pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 -- "-$server_pid" 2>/dev/null; then
    echo "bench: the provider ignored SIGTERM; killing it" >&2
    kill -KILL -- "-$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
shm=
cleanup() { stop_server; rm -rf "$work" ${shm:+"$shm"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

say() { printf '\n==> %s\n' "$*"; }
die() { echo "bench: $*" >&2; exit 1; }

nproc=$(nproc)
load_parts=()
load1_samples=()
# Records and prints the load average before a part; warns when the machine is busy.
sample_load() {
  local l
  l=$(cut -d' ' -f1-3 /proc/loadavg)
  load_parts+=("$1 $l")
  load1_samples+=("${l%% *}")
  echo "load average before $1: $l (nproc $nproc)"
  if awk -v l="${l%% *}" -v n="$nproc" 'BEGIN { exit !(l > n) }'; then
    echo "bench: WARNING: the 1-minute load ($l) is above the CPU count ($nproc);" \
      "timings will be pessimistic" >&2
  fi
}

# --- tools ---------------------------------------------------------------------------------
say "tools"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average before the run: $load_before (nproc $nproc)"

if ! command -v hyperfine >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" = 0 ] || sudo -n true 2>/dev/null; }; then
    sudo_=; [ "$(id -u)" = 0 ] || sudo_="sudo -n"
    echo "hyperfine is missing; installing it with apt-get"
    DEBIAN_FRONTEND=noninteractive timeout 600 $sudo_ apt-get install -y -q hyperfine ||
      die "apt-get install hyperfine failed; install it yourself (Debian 12+/Ubuntu 22.04+: sudo apt-get install hyperfine)"
  else
    die "hyperfine is missing; install it: sudo apt-get install hyperfine (Debian 12+/Ubuntu 22.04+)"
  fi
fi
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "python3 3.11 or newer is needed (tomllib)"
cookiecutter=$venv/bin/cookiecutter
if ! "$cookiecutter" --version >/dev/null 2>&1; then
  echo "installing cookiecutter into $venv"
  python3 -m venv "$venv" || die "python3 -m venv failed (Debian: sudo apt-get install python3-venv)"
  timeout 600 "$venv/bin/pip" install --quiet --disable-pip-version-check 'cookiecutter>=2,<3' ||
    die "pip install cookiecutter failed"
fi

say "cargo build --release"
# The cookiecutter templates are built from a snapshot of templates/ taken before the build,
# checked unchanged after it: the binary embeds the very files the snapshot holds.
for attempt in 1 2 3; do
  rm -rf "$work/templates"; cp -a templates "$work/templates"
  timeout 1800 cargo build --release --locked
  diff -rq templates "$work/templates" >/dev/null && break
  [ "$attempt" -lt 3 ] || die "templates/ kept changing during the build; run again later"
  echo "templates/ changed during the build; building again"
done
# A copy: another build of target/ during the run cannot swap the binary under the timings.
cp target/release/kensa "$work/kensa"
kensa=$work/kensa
mapfile -t templates < <("$kensa" templates | awk '{ print $1 }')
[ ${#templates[@]} -gt 0 ] || die "kensa templates listed nothing"
echo "templates: ${templates[*]}"
kensa_version=$("$kensa" --version | awk '{ print $2 }')

# LOAD_WAIT=600: wait up to that many seconds for the 1-minute load to drop below the CPU
# count before timing anything (the run goes ahead either way, and RESULTS.md says so).
if [ "${LOAD_WAIT:-0}" -gt 0 ]; then
  waited=0
  until awk -v l="$(cut -d' ' -f1 /proc/loadavg)" -v n="$nproc" 'BEGIN { exit !(l < n) }'; do
    [ "$waited" -lt "$LOAD_WAIT" ] || { echo "load still $(cut -d' ' -f1-3 /proc/loadavg) after ${LOAD_WAIT} s; going ahead"; break; }
    [ "$waited" -gt 0 ] || echo "waiting up to ${LOAD_WAIT} s for the load ($(cut -d' ' -f1-3 /proc/loadavg)) to drop below $nproc"
    sleep 15; waited=$((waited + 15))
  done
fi

hf() { timeout 1800 hyperfine --shell=none --style basic "$@"; }

# --- 1. start-up ---------------------------------------------------------------------------
say "1. start-up: kensa --version"
sample_load startup
hf --warmup 10 --runs "$startup_runs" --export-json "$work/startup.json" \
  --command-name "kensa --version" "$kensa --version"

# --- 2. create: kensa against cookiecutter -------------------------------------------------
say "2. kensa create against cookiecutter"
cc_config=$work/cookiecutter.yaml
printf 'cookiecutters_dir: "%s"\nreplay_dir: "%s"\n' "$work/cc-home/cookiecutters" \
  "$work/cc-home/replay" >"$cc_config"
trees_same=()
for t in "${templates[@]}"; do
  # One kensa project is the reference: the cookiecutter template takes its manifest, .env
  # and modes, and cookiecutter's output must equal it byte for byte and mode for mode.
  ref=$work/ref-$t/my-addon
  mkdir -p "$work/ref-$t"
  "$kensa" create "$ref" --template "$t" --no-input >/dev/null
  python3 "$helpers" cc-template "$work/templates/$t" "$ref" "$work/cc-$t" "$kensa_version"
  timeout 120 "$cookiecutter" --no-input --config-file "$cc_config" -o "$work/check-$t" "$work/cc-$t"
  diff -r "$ref" "$work/check-$t/my-addon" >&2 ||
    die "cookiecutter's tree for $t differs from kensa's (see above)"
  diff <(python3 "$helpers" tree-summary "$ref") \
    <(python3 "$helpers" tree-summary "$work/check-$t/my-addon") >&2 ||
    die "cookiecutter's file modes or sizes for $t differ from kensa's"
  files=$(find "$ref" -type f | wc -l)
  export "BENCH_FILES_${t//-/_}=$files"
  trees_same+=("$t $files files")
  echo "$t: kensa and cookiecutter trees are identical ($files files, modes included)"
done

sample_load create
mkdir -p "$work/k"
args=(--warmup 3 --runs "$runs" --export-json "$work/create-kensa.json"
  --prepare "rm -rf $work/k/my-addon")
for t in "${templates[@]}"; do
  args+=(--command-name "kensa create $t" "$kensa create $work/k/my-addon --template $t --no-input")
done
hf "${args[@]}"

sample_load cookiecutter
args=(--warmup 2 --runs "$cc_runs" --export-json "$work/create-cookiecutter.json"
  --prepare "rm -rf $work/c/my-addon")
for t in "${templates[@]}"; do
  args+=(--command-name "cookiecutter $t"
    "$cookiecutter --no-input --config-file $cc_config -o $work/c $work/cc-$t")
done
hf "${args[@]}"

# --- 3. kensa test all against a local provider --------------------------------------------
say "3. kensa test all against the node template"
testall_skipped=
testall_checks=
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_node() {
  local srv=$1 port=$2 web waited=0
  web=$(sed -n 's/^web:[[:space:]]*//p' "$srv/Procfile")
  [ -n "$web" ] || { testall_skipped="the node Procfile has no web: line"; return 1; }
  (cd "$srv" && exec setsid bash -c "set -a; . ./.env; set +a; export PORT=$port; exec $web") \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -20 "$work/server.log" >&2; server_pid=
      testall_skipped="the node service exited before listening"; return 1
    fi
    sleep 0.25; waited=$((waited + 1))
    if [ $waited -ge 120 ]; then
      tail -20 "$work/server.log" >&2
      testall_skipped="the node service did not listen within 30 s"; return 1
    fi
  done
}
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  testall_skipped="node and npm are not installed (Debian: sudo apt-get install nodejs npm)"
else
  port=$(free_port)
  srv=$work/srv/my-addon
  mkdir -p "$work/srv"
  "$kensa" create "$srv" --template node --port "$port" --no-input >/dev/null
  echo "npm install in $srv (port $port)"
  if ! (cd "$srv" && timeout 600 npm install --omit=dev --no-audit --no-fund --loglevel=error); then
    testall_skipped="npm install failed (no network?)"
  elif start_node "$srv" "$port"; then
    manifest=$srv/addon-manifest.json
    if timeout 120 "$kensa" -f "$manifest" test all --timeout 10 --color never >"$work/testall.txt"; then
      pass=$(grep -c '\[PASS\]' "$work/testall.txt" || true)
      warn=$(grep -c '\[WARN' "$work/testall.txt" || true)
      testall_checks="$pass checks pass, $warn warnings, exit 0"
      echo "kensa test all: $testall_checks"
      sample_load "test-all"
      hf --warmup 2 --runs "$test_runs" --export-json "$work/testall.json" \
        --command-name "kensa test all" "$kensa -f $manifest test all --timeout 10"
    else
      cat "$work/testall.txt" >&2
      testall_skipped="kensa test all failed against the node template"
    fi
  fi
  stop_server
fi
[ -z "$testall_skipped" ] || echo "bench: part 3 not measured: $testall_skipped" >&2

# --- 4. create from large local templates --------------------------------------------------
# On the work directory's filesystem, and again on tmpfs (/dev/shm) when there is one, so the
# disk's share of the cost shows; `cp -r` of the same tree on the same filesystem is the
# floor any tool writing those files pays. Each run starts after `sync`, so the writeback of
# the previous run's files (and their removal) is not billed to the next one.
say "4. kensa create from local templates of $sizes files"
scale_fs=()
scale_dirs=()
scale_dirs+=("$work/scale")
scale_fs+=(disk)
if [ -d /dev/shm ] && [ "$(df -T /dev/shm 2>/dev/null | awk 'NR == 2 { print $2 }')" = tmpfs ] &&
  shm=$(mktemp -d /dev/shm/kensa-bench.XXXXXX 2>/dev/null); then
  scale_dirs+=("$shm")
  scale_fs+=(tmpfs)
fi
for i in "${!scale_dirs[@]}"; do
  d=${scale_dirs[$i]} fs=${scale_fs[$i]}
  mkdir -p "$d/out"
  for n in $sizes; do
    python3 "$helpers" big-template "$d/big-$n" "$n"
  done
  sample_load "scale-$fs"
  args=(--warmup 1 --runs "$scale_runs" --export-json "$work/scale-$fs.json"
    --prepare "sh -c 'rm -rf $d/out/p && sync'")
  for n in $sizes; do
    args+=(--command-name "kensa create $n files"
      "$kensa create $d/out/p --template $d/big-$n --no-input"
      --command-name "cp -r $n files" "cp -r $d/big-$n $d/out/p")
  done
  hf "${args[@]}"
  rm -rf "$d"
done

# --- report --------------------------------------------------------------------------------
say "results"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
load1_samples+=("${load_after%% *}")
echo "load average after the run: $load_after"
parts=$(printf '%s; ' "${load_parts[@]}")
export BENCH_TEMPLATES="${templates[*]}" BENCH_SIZES="$sizes" BENCH_NPROC="$nproc"
export BENCH_SCALE_FS="${scale_fs[*]}"
export BENCH_DATE="$(date -u '+%Y-%m-%d %H:%M UTC')"
export BENCH_CPU="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
export BENCH_MEM="$(awk '/MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
export BENCH_OS="$(uname -srm)"
export BENCH_FS="$(df -T "$work" | awk 'NR == 2 { print $2 }')"
export BENCH_LOAD_BEFORE="$load_before" BENCH_LOAD_AFTER="$load_after"
export BENCH_LOAD_PARTS="${parts%; }" BENCH_LOAD1_SAMPLES="${load1_samples[*]}"
export BENCH_KENSA_VERSION="$("$kensa" --version)"
export BENCH_HYPERFINE_VERSION="$(hyperfine --version)"
export BENCH_CC_VERSION="$("$cookiecutter" --version | awk '{ print $2 }')"
export BENCH_PYTHON_VERSION="$("$venv/bin/python" --version)"
export BENCH_NODE_VERSION="$(node --version 2>/dev/null || echo none)"
export BENCH_TREES="identical for every template ($(printf '%s, ' "${trees_same[@]}" | sed 's/, $//'); modes included)"
export BENCH_TESTALL_CHECKS="$testall_checks" BENCH_TESTALL_SKIPPED="$testall_skipped"
rc=0
python3 "$helpers" report "$work" "$results" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "writing the report failed"
echo "Wrote ${results#"$root"/}"
if [ "$rc" = 3 ]; then
  echo "bench: a goal was missed (MISS above)" >&2
  [ "${STRICT:-0}" != 1 ] || exit 1
fi
