#!/usr/bin/env bash
# `kensa update` on the node template (issue 13), written into bench/RESULTS.md as a section
# of its own (between <!-- bench/update.sh --> markers, which bench/run.sh keeps; run.sh also
# calls this script last).
#
# A project is made from a copy of templates/node (`kensa create`, a git repository with a
# first commit), then timed with hyperfine (release build, --shell=none):
#   1. `kensa update` of the untouched project against the unchanged template (up to date:
#      render, read the pristine copy, compare; nothing written);
#   2. a new template version (3 files changed, 1 added) with a committed user edit in one
#      of the changed files: `kensa update --dry-run` (the plan) and `kensa update` (the
#      merge, conflict-free, and the writes); before each run the project is reset with
#      `git reset --hard && git clean -fd` (not timed);
#   3. `kensa create` of the same template, as the yardstick.
# With valgrind on the machine, each command's own instructions are also counted once
# (callgrind; git's child processes not included): a figure other work on the machine does
# not change, unlike the times.
#
#   bash bench/update.sh
#   RUNS=50 bash bench/update.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runs=${RUNS:-30}
results=$root/bench/RESULTS.md
kensa=${KENSA:-}
if [ -z "$kensa" ]; then
  cargo build --release --locked --quiet
  kensa=${CARGO_TARGET_DIR:-$root/target}/release/kensa
fi
command -v hyperfine >/dev/null || { echo "bench/update.sh: hyperfine is missing (apt-get install hyperfine)" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/kensa-bench-update.XXXXXX")
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@localhost
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@localhost
hf() { timeout 1800 hyperfine --shell=none --style basic "$@"; }

cp -r templates/node "$work/tpl"
p=$work/p
"$kensa" create "$p" --template "$work/tpl" --no-input >/dev/null
files=$(git -C "$p" ls-files | wc -l)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# 1. Up to date.
hf --warmup 3 --runs "$runs" --export-json "$work/uptodate.json" \
  --command-name "kensa update (up to date)" "$kensa update $p"
git -C "$p" diff --quiet || { echo "bench/update.sh: an up-to-date update changed files" >&2; exit 1; }

# 2. A new template version and a user edit.
printf '\n// A line the new template version adds.\n' >>"$work/tpl/server.js"
printf '\n// Another one.\n' >>"$work/tpl/src/app.js"
printf '\n## Changelog\n\nThe new version of the template.\n' >>"$work/tpl/README.md.tera"
printf 'the new version adds this file\n' >"$work/tpl/CHANGES.md"
sed -i '1s/^/\/\/ My own note at the top.\n/' "$p/server.js"
git -C "$p" commit -qam "my edit"
"$kensa" update "$p" --dry-run >"$work/plan.txt"
reset="git -C $p reset -q --hard HEAD"
clean="git -C $p clean -qfd"
hf --warmup 2 --runs "$runs" --export-json "$work/update.json" \
  --prepare "$reset" --command-name "kensa update --dry-run (3 changed, 1 new)" "$kensa update $p --dry-run" \
  --prepare "sh -c '$reset && $clean'" --command-name "kensa update (3 changed, 1 new, 1 merged)" "$kensa update $p"
sh -c "$reset && $clean"
"$kensa" update "$p" >"$work/applied.txt"
changed=$(git -C "$p" status --porcelain | wc -l)

# 3. The yardstick.
hf --warmup 3 --runs "$runs" --export-json "$work/create.json" \
  --prepare "rm -rf $work/c" --command-name "kensa create (--vcs none)" \
  "$kensa create $work/c --template $work/tpl --no-input --vcs none"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# Instructions, once each (the same order and states as above).
: >"$work/instructions.txt"
if command -v valgrind >/dev/null; then
  count() {
    local name=$1; shift
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" >/dev/null 2>"$work/vg.txt" || true
    local ir
    ir=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$work/vg.txt" | tail -1)
    [ -z "$ir" ] || printf '%s\t%s\n' "$name" "$ir" >>"$work/instructions.txt"
  }
  sh -c "$reset && $clean"
  count "kensa update --dry-run (3 changed, 1 new)" "$kensa" update "$p" --dry-run
  count "kensa update (3 changed, 1 new, 1 merged)" "$kensa" update "$p"
  count "kensa update (up to date)" "$kensa" update "$p" --allow-dirty
  rm -rf "$work/c"
  count "kensa create (--vcs none)" "$kensa" create "$work/c" --template "$work/tpl" --no-input --vcs none
fi

python3 - "$work" "$results" "$files" "$changed" "$load_before" "$load_after" "$("$kensa" --version)" <<'PY'
import json, re, sys
from pathlib import Path
work, results, files, changed, before, after, version = sys.argv[1:]
work = Path(work)
instructions = dict(
    line.split("\t") for line in (work / "instructions.txt").read_text().splitlines() if line
)
rows = []
for name in ["uptodate", "update", "create"]:
    for r in json.loads((work / f"{name}.json").read_text())["results"]:
        rows.append((r["command"], r["median"] * 1e3, min(r["times"]) * 1e3,
                     max(r["times"]) * 1e3, len(r["times"]), (r["user"] + r["system"]) * 1e3,
                     instructions.get(r["command"])))
plan = (work / "plan.txt").read_text().strip().splitlines()
lines = [
    "<!-- bench/update.sh -->",
    "## `kensa update` on the node template",
    "",
    "Written by `bash bench/update.sh` (release build; hyperfine `--shell=none`; medians in",
    f"milliseconds). {version}; load average {before} before, {after} after (2 CPUs, shared).",
    f"A project made by `kensa create` from a copy of `templates/node` ({files} files in git),",
    "updated against the unchanged template (up to date), then against a new version of it",
    "(3 files changed, 1 added) with a committed edit of the user's in one of the changed",
    "files, merged line by line. Before each run of the second case the project is reset",
    "(`git reset --hard && git clean -fd`, not timed).",
    "",
    "The CPU column includes git's processes (the dirty check); the instructions are kensa's own",
    "(callgrind, one run; unchanged by other work on the machine).",
    "",
    "| command | median | min / max | runs | CPU (user + sys, mean) | instructions (millions) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
]
for name, med, lo, hi, n, cpu, ir in rows:
    ir = f"{int(ir) / 1e6:.1f}" if ir else "n/a"
    lines.append(f"| `{name}` | {med:.2f} | {lo:.2f} / {hi:.2f} | {n} | {cpu:.2f} | {ir} |")
lines += ["", "The plan `kensa update --dry-run` printed:", "", "```"]
lines += [re.sub(r"\x1b\[[0-9;]*m", "", l) for l in plan]
lines += ["```", "", f"After the update, `git status` lists {changed} changed or new files.", "<!-- /bench/update.sh -->"]
section = "\n".join(lines) + "\n"
path = Path(results)
text = path.read_text() if path.exists() else "# kensa benchmark results\n"
pattern = re.compile(r"<!-- bench/update\.sh -->.*?<!-- /bench/update\.sh -->\n", re.S)
text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + section
path.write_text(text)
print(section)
PY
