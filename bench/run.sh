#!/usr/bin/env bash
# Every kensa benchmark, in one run on one machine (issue 7), written to bench/RESULTS.md:
#
#   1. start-up: `kensa --version`;
#   2. `kensa create` for each embedded template, against cookiecutter rendering the same
#      tree from a cookiecutter template this script builds from ours (bench/helpers.py);
#   3. `kensa test all` against local providers: the node template, installed and started,
#      and bench/python_provider.py (Python's standard library, HTTP/1.1, head and body in
#      separate writes); the original Ruby kensa's `test all` against the same Python
#      provider as a reference, when KENSA_RUBY names a checkout of it (see below);
#   4. `kensa create` from generated local templates of 1,000, 5,000 and 10,000 small files,
#      with `cp -r` of the same tree as the floor, on disk and on tmpfs;
#   5. `kensa update` on the node template: bench/update.sh, which writes its own section.
#
# `kensa create` runs with `--vcs none` here: the git repository and first commit it makes
# by default are git's time, not kensa's, and cookiecutter makes none.
#
#   bash bench/run.sh
#   RUNS=100 CC_RUNS=20 bash bench/run.sh       # more runs (defaults below)
#   STRICT=1 bash bench/run.sh                  # exit 1 when a goal is missed
#   LOAD_WAIT=600 bash bench/run.sh             # first wait (at most 600 s) for a quiet machine
#   KENSA_RUBY=~/src/kensa bash bench/run.sh     # with the Ruby kensa (github.com/heroku/kensa)
#
# The Ruby kensa is run from its checkout as `ruby $KENSA_RUBY/bin/kensa`, never installed
# or copied here; its gems come from the system (Debian: ruby-rest-client ruby-mechanize
# ruby-launchy ruby-netrc ruby-colored ruby-webrick). Without KENSA_RUBY that row is left
# out, and RESULTS.md says so.
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
  "$kensa" create "$ref" --template "$t" --no-input --vcs none >/dev/null
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
  args+=(--command-name "kensa create $t" "$kensa create $work/k/my-addon --template $t --no-input --vcs none")
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

# --- 3. kensa test all against local providers --------------------------------------------
say "3. kensa test all against local providers"
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Starts `$2` (a command line) in project directory $1 with its .env and PORT=$3, in its own
# process group, and waits for the port; on failure sets $start_failed.
start_failed=
start_provider() {
  local srv=$1 web=$2 port=$3 waited=0
  start_failed=
  (cd "$srv" && exec setsid bash -c "set -a; . ./.env; set +a; export PORT=$port; exec $web") \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
      tail -20 "$work/server.log" >&2; server_pid=
      start_failed="the service exited before listening"; return 1
    fi
    sleep 0.25; waited=$((waited + 1))
    if [ $waited -ge 120 ]; then
      tail -20 "$work/server.log" >&2
      start_failed="the service did not listen within 30 s"; return 1
    fi
  done
}
# One `kensa test all` (output kept in $work/testall-$1.txt) that must pass before timing;
# prints kensa's own summary ("52 checks passed, 1 warning"), so the wording is kensa's.
verify_test_all() {
  local name=$1 manifest=$2; shift 2
  timeout 120 "$kensa" test all -f "$manifest" --timeout 10 --color never "$@" \
    >"$work/testall-$name.txt" || { cat "$work/testall-$name.txt" >&2; return 1; }
  printf '%s, exit 0' "$(sed -n 's/^kensa: //p' "$work/testall-$name.txt" | tail -n 1)"
}

# 3a. The node template.
testall_node=
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  testall_node="not measured: node and npm are not installed (Debian: sudo apt-get install nodejs npm)"
else
  port=$(free_port)
  srv=$work/srv/my-addon
  mkdir -p "$work/srv"
  "$kensa" create "$srv" --template node --port "$port" --no-input >/dev/null
  echo "npm install in $srv (port $port)"
  if ! (cd "$srv" && timeout 600 npm install --omit=dev --no-audit --no-fund --loglevel=error); then
    testall_node="not measured: npm install failed (no network?)"
  elif ! start_provider "$srv" "$(sed -n 's/^web:[[:space:]]*//p' "$srv/Procfile")" "$port"; then
    testall_node="not measured: $start_failed"
  elif checks=$(verify_test_all node "$srv/addon-manifest.json"); then
    testall_node=$checks
    echo "kensa test all (node): $checks"
    sample_load "test-all-node"
    hf --warmup 2 --runs "$test_runs" --export-json "$work/testall-node.json" \
      --command-name "kensa test all: node template" \
      "$kensa test all -f $srv/addon-manifest.json --timeout 10"
  else
    testall_node="not measured: kensa test all failed against the node template"
  fi
  stop_server
fi
echo "node template: ${testall_node}"

# 3b. The Python provider, and the Ruby kensa against it.
testall_python=
testall_ruby=
port=$(free_port)
py=$work/py
mkdir -p "$py"
(cd "$py" && "$kensa" init --id py-addon --port "$port" --foreman --no-input >/dev/null)
echo "CONFIG_PREFIX=PY_ADDON" >>"$py/.env"
if ! start_provider "$py" "python3 $root/bench/python_provider.py" "$port"; then
  testall_python="not measured: $start_failed"
elif checks=$(verify_test_all python "$py/addon-manifest.json") &&
  lean=$(verify_test_all python-lean "$py/addon-manifest.json" --without-sso --plan premium); then
  testall_python=$checks
  echo "kensa test all (python): $checks; --without-sso --plan premium: $lean"
  ruby_cmd=
  if [ -z "${KENSA_RUBY:-}" ]; then
    testall_ruby="not measured: KENSA_RUBY is not set (a checkout of github.com/heroku/kensa)"
  elif [ ! -f "$KENSA_RUBY/bin/kensa" ] || ! command -v ruby >/dev/null 2>&1; then
    testall_ruby="not measured: no ruby, or no bin/kensa in KENSA_RUBY=$KENSA_RUBY"
  elif (cd "$py" && timeout 120 ruby "$KENSA_RUBY/bin/kensa" -f addon-manifest.json test all \
    -p premium >"$work/testall-ruby.txt" 2>&1); then
    passed=$(grep -c 'PASS' "$work/testall-ruby.txt" || true)
    testall_ruby="$passed $([ "$passed" = 1 ] && echo check || echo checks) passed, exit 0"
    ruby_cmd="ruby $KENSA_RUBY/bin/kensa -f $py/addon-manifest.json test all -p premium"
    echo "Ruby kensa test all (python): $testall_ruby"
  else
    cat "$work/testall-ruby.txt" >&2
    testall_ruby="not measured: the Ruby kensa's test all failed (its gems missing?)"
  fi
  sample_load "test-all-python"
  args=(--warmup 2 --runs "$test_runs" --export-json "$work/testall-python.json"
    --command-name "kensa test all: python provider"
    "$kensa test all -f $py/addon-manifest.json --timeout 10"
    --command-name "kensa test all --without-sso --plan premium: python provider"
    "$kensa test all -f $py/addon-manifest.json --timeout 10 --without-sso --plan premium")
  if [ -n "$ruby_cmd" ]; then
    # Ruby's `test all` is manifest, provision, plan change and deprovision (no sign-on):
    # the row above is kensa doing the same calls.
    args+=(--command-name "Ruby kensa test all -p premium: python provider" "$ruby_cmd")
  fi
  hf "${args[@]}"
else
  testall_python="not measured: kensa test all failed against the Python provider"
fi
stop_server
echo "python provider: ${testall_python}; Ruby kensa: ${testall_ruby:-n/a}"

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
      "$kensa create $d/out/p --template $d/big-$n --no-input --vcs none"
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
export BENCH_TESTALL_NODE="$testall_node" BENCH_TESTALL_PYTHON="$testall_python"
export BENCH_TESTALL_RUBY="$testall_ruby"
export BENCH_RUBY_VERSION="$(ruby --version 2>/dev/null | awk '{ print $1, $2 }' || echo none)"
rc=0
python3 "$helpers" report "$work" "$results" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "writing the report failed"
echo "Wrote ${results#"$root"/}"

# --- 5. kensa update on the node template (its own section of RESULTS.md) -----------------
say "5. kensa update on the node template"
KENSA=$kensa RUNS=$test_runs bash "$root/bench/update.sh"

if [ "$rc" = 3 ]; then
  echo "bench: a goal was missed (MISS above)" >&2
  [ "${STRICT:-0}" != 1 ] || exit 1
fi
