#!/usr/bin/env python3
"""Helpers for bench/run.sh (standard library only, Python 3.11+).

  helpers.py cc-template SRC REF OUT V build a cookiecutter template from kensa template SRC
  helpers.py big-template DIR N        write a kensa template of N small files into DIR
  helpers.py tree-summary DIR          print "mode size path" for every file under DIR
  helpers.py report WORK RESULTS_MD    read hyperfine's JSON exports, print and write results

cc-template: REF is a project `kensa create` made from SRC with the same inputs. The values
for cookiecutter.json (id, name, config var, port, template variables) are read from REF's
manifest and SRC's template.toml, V is `kensa --version`'s number; its addon-manifest.json and .env are copied into the
cookiecutter template, and file modes are taken from REF, so both tools write the same tree.
"""

import json
import os
import re
import shutil
import statistics
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

TERA = ".tera"
# `{{ var }}`, `{{ var | json_encode }}`, `{{ var | json_encode() }}` and (below) `replace`:
# everything the embedded templates use. Anything else left in a .tera file stops the build
# loudly.
VAR = re.compile(r"\{\{-?\s*([A-Za-z_]\w*)\s*(\|\s*json_encode\s*(\(\s*\))?\s*)?-?\}\}")
# `{{ var | replace(from="-", to="_") }}` (the rust-axum README's database names).
REPLACE = re.compile(
    r'\{\{-?\s*([A-Za-z_]\w*)\s*\|\s*replace\(\s*from\s*=\s*"([^"]*)"\s*,\s*to\s*=\s*"([^"]*)"\s*\)\s*-?\}\}'
)
TAG = re.compile(r"\{\{|\{%|\{#")
# What kensa writes beside the rendered template: copied into the cookiecutter template as
# plain files, so both tools write the same tree.
RESERVED = ("addon-manifest.json", ".env", ".kensa/.gitignore", ".kensa/answers.toml",
            ".kensa/pristine.json.gz")


def jinja(text, used):
    def sub(m):
        used.add(m.group(1))
        return "{{ cookiecutter.%s%s }}" % (m.group(1), " | tojson" if m.group(2) else "")

    def replace(m):
        used.add(m.group(1))
        return '{{ cookiecutter.%s | replace("%s", "%s") }}' % m.group(1, 2, 3)

    out = REPLACE.sub(replace, VAR.sub(sub, text))
    leftover = TAG.findall(REPLACE.sub("", VAR.sub("", text)))
    if leftover:
        raise SystemExit(f"untranslated tera syntax {leftover!r} in: {text[:200]!r}")
    return out


def cc_template(src, ref, out, kensa_version):
    src, ref, out = Path(src), Path(ref), Path(out)
    spec = tomllib.loads((src / "template.toml").read_text())
    verbatim = spec.get("files", {}).get("verbatim", [])
    manifest = json.loads((ref / "addon-manifest.json").read_text())
    api = manifest["api"]
    prefix = api["config_vars_prefix"]
    port = re.search(r":(\d+)", api["test"]["base_url"] if isinstance(api["test"], dict)
                     else api["test"]).group(1)
    values = {
        "project_name": ref.name,
        "id": manifest["id"],
        "name": manifest["name"],
        "config_vars_prefix": prefix,
        "config_var": f"{prefix}_URL",
        "port": port,
        "sso_method": "post",
        "kensa_version": kensa_version,
    }
    for name, var in spec.get("variables", {}).items():
        default = var.get("default")
        values[name] = str(default).lower() if isinstance(default, bool) else str(default)

    root = out / "{{cookiecutter.project_name}}"
    used, plain = set(), []
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src).as_posix()
        if rel == "template.toml":
            continue
        rendered = rel.endswith(TERA) and not any(fnmatch(rel, g) for g in verbatim)
        out_rel = jinja(rel[: -len(TERA)] if rendered else rel, used)
        dest = root / out_rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if rendered:
            dest.write_text(jinja(path.read_text(), used))
        else:
            shutil.copyfile(path, dest)
            plain.append(out_rel)  # kensa copies these byte for byte; so does cookiecutter
    for name in RESERVED:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ref / name, root / name)
        plain.append(name)
    missing = used - values.keys()
    if missing:
        raise SystemExit(f"template uses variables with no cookiecutter value: {sorted(missing)}")
    # Modes as kensa writes them (0644, 0755 for `executable` globs, 0600 for .env):
    # cookiecutter copies each source file's mode.
    for path in root.rglob("*"):
        if path.is_file():
            rendered_rel = VAR.sub(lambda m: values[m.group(1)], path.relative_to(root).as_posix())
            os.chmod(path, (ref / rendered_rel).stat().st_mode & 0o777)
    values["_copy_without_render"] = sorted(plain)
    (out / "cookiecutter.json").write_text(json.dumps(values, indent=2) + "\n")
    print(f"{out}: {len(plain) - len(RESERVED)} plain + "
          f"{sum(1 for p in root.rglob('*') if p.is_file()) - len(plain)} rendered files, "
          f"variables {sorted(used)}")


def big_template(dir_, n):
    """N files, 1 in 4 rendered, 100 per directory, three levels deep."""
    d, n = Path(dir_), int(n)
    d.mkdir(parents=True)
    (d / "template.toml").write_text(f'description = "{n} small files"\n')
    body = "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(4))
    for i in range(n):
        sub = d / f"a{i // 10000}" / f"b{i // 1000 % 10}" / f"c{i // 100 % 10}"
        if i % 100 == 0:
            sub.mkdir(parents=True, exist_ok=True)
        if i % 4 == 0:
            (sub / f"f{i}.txt.tera").write_text(
                f"# {{{{ name }}}} ({{{{ id }}}}), file {i}\nconst X = {{{{ name | json_encode }}}};\n"
                + body)
        else:
            (sub / f"f{i}.txt").write_text(f"# file {i}\n" + body)


def tree_summary(dir_):
    root = Path(dir_)
    for p in sorted(root.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_mode & 0o777:o} {p.stat().st_size} {p.relative_to(root).as_posix()}")


# ---------------------------------------------------------------------------------------
# report

def load(work, name):
    path = Path(work) / f"{name}.json"
    if not path.exists():
        return {}
    return {r["command"]: r for r in json.loads(path.read_text())["results"]}


def ms(seconds):
    return seconds * 1000.0


def fmt(x, digits=2):
    return "n/a" if x is None else f"{x:.{digits}f}"


def pf(ok):
    return "**PASS**" if ok else "**MISS**"


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def report(work, results_md):
    env = os.environ
    templates = env["BENCH_TEMPLATES"].split()
    sizes = [int(s) for s in env["BENCH_SIZES"].split()]
    kensa_create = load(work, "create-kensa")
    cc_create = load(work, "create-cookiecutter")
    startup = load(work, "startup")
    testall = {**load(work, "testall-node"), **load(work, "testall-python")}
    nproc = int(env["BENCH_NPROC"])
    lines, say = [], []

    def stats(r):
        t = r["times"]
        return ms(r["median"]), ms(min(t)), ms(max(t)), len(t)

    lines += [
        "# kensa benchmark results",
        "",
        "Written by `bash bench/run.sh` (one run, one machine, release build; hyperfine with",
        "`--shell=none`, so no shell start-up is timed). Medians in milliseconds.",
        "",
        "## Machine",
        "",
        f"- date: {env['BENCH_DATE']}",
        f"- CPU: {env['BENCH_CPU']}, `nproc` = {nproc}; {env['BENCH_MEM']}",
        f"- OS: {env['BENCH_OS']}; work directory on {env['BENCH_FS']}",
        f"- load average (1, 5, 15 min): before the run {env['BENCH_LOAD_BEFORE']}; "
        + "; ".join(f"before {p.split(' ', 1)[0]} {p.split(' ', 1)[1]}"
                    for p in env["BENCH_LOAD_PARTS"].split("; ") if p)
        + f"; after the run {env['BENCH_LOAD_AFTER']}",
        f"- {env['BENCH_KENSA_VERSION']}; {env['BENCH_HYPERFINE_VERSION']}; "
        f"cookiecutter {env['BENCH_CC_VERSION']} on {env['BENCH_PYTHON_VERSION']}; "
        f"node {env['BENCH_NODE_VERSION']}",
        "",
    ]
    # Samples taken before each timed part and after the run (the benchmark itself adds
    # about 1 while it runs); the load before the build does not touch the timings.
    busy = max(float(x) for x in env["BENCH_LOAD1_SAMPLES"].split())
    if busy > nproc:
        note = (f"**The machine was busy**: a 1-minute load average of up to {busy:.2f} "
                f"on {nproc} CPUs while timing (other work shares it; the benchmark itself "
                "adds about 1). Medians are robust to the odd slow run, but absolute times are "
                "pessimistic; compare ratios within one run.")
        lines += [note, ""]
        say.append("NOTE: " + note.replace("**", ""))

    # create ------------------------------------------------------------------------
    lines += [
        "## `kensa create` against cookiecutter",
        "",
        "`kensa create <tmp>/k/my-addon --template T --no-input` against",
        "`cookiecutter --no-input -o <tmp>/c <tmp>/cc-T` rendering the same tree (the template",
        "is built by the script from `templates/T`: `.tera` suffixes stripped, tera variables",
        "translated to `{{ cookiecutter.x }}` / `| tojson`, plain files in",
        "`_copy_without_render` as kensa copies them, plus the `addon-manifest.json` and `.env`",
        "kensa writes). The output directory is removed before every run (`--prepare`).",
        f"Both outputs were compared before timing: {env['BENCH_TREES']}.",
        "",
        row(["template", "files", "kensa median", "kensa min / max", "runs",
             "cookiecutter median", "cookiecutter min / max", "runs", "cookiecutter / kensa"]),
        row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
    ]
    create_medians, ratios = {}, {}
    for t in templates:
        k = kensa_create.get(f"kensa create {t}")
        c = cc_create.get(f"cookiecutter {t}")
        if not k:
            continue
        km, kmin, kmax, kn = stats(k)
        create_medians[t] = km
        files = env.get(f"BENCH_FILES_{t.replace('-', '_')}", "?")
        if c:
            cm, cmin, cmax, cn = stats(c)
            ratios[t] = cm / km
            lines.append(row([f"`{t}`", files, fmt(km), f"{fmt(kmin)} / {fmt(kmax)}", kn,
                              fmt(cm), f"{fmt(cmin)} / {fmt(cmax)}", cn, f"{ratios[t]:.1f}x"]))
            say.append(f"create {t:10} kensa {km:8.2f} ms   cookiecutter {cm:8.2f} ms   "
                       f"ratio {ratios[t]:.1f}x")
        else:
            lines.append(row([f"`{t}`", files, fmt(km), f"{fmt(kmin)} / {fmt(kmax)}", kn,
                              "n/a", "n/a", "", "n/a"]))
            say.append(f"create {t:10} kensa {km:8.2f} ms")
    lines.append("")

    # startup -----------------------------------------------------------------------
    lines += ["## Start-up: `kensa --version`", "",
              row(["command", "median", "min / max", "runs"]), row(["---", "---:", "---:", "---:"])]
    startup_median = None
    for name, r in startup.items():
        m, mn, mx, n = stats(r)
        if name == "kensa --version":
            startup_median = m
        lines.append(row([f"`{name}`", fmt(m), f"{fmt(mn)} / {fmt(mx)}", n]))
        say.append(f"{name:28} {m:8.2f} ms")
    lines.append("")

    # test all ----------------------------------------------------------------------
    lines += [
        "## `kensa test all` against local providers",
        "",
        "Each provider runs on this machine; every check is an HTTP round trip to it, each on a",
        "fresh connection (kensa keeps none open, as Heroku's calls do not share one).",
        "",
        "- **node template**: generated by `kensa create --port P`, `npm install --omit=dev`,",
        "  started as its Procfile says (`node server.js` with `.env` and `PORT=P`). "
        f"`kensa test all`: {env['BENCH_TESTALL_NODE']}.",
        "- **python provider**: `bench/python_provider.py`, Python's standard library only",
        "  (`http.server`, HTTP/1.1 keep-alive, the head and the body in separate writes, a thread",
        "  per connection), with a manifest and `.env` from `kensa init --foreman`. "
        f"`kensa test all`: {env['BENCH_TESTALL_PYTHON']}.",
        "- **Ruby kensa** (the original gem, github.com/heroku/kensa, run from its checkout with",
        f"  Debian's gems; {env['BENCH_RUBY_VERSION']}): `kensa test all -p premium` against the same",
        "  Python provider: manifest, provision, plan change, deprovision, no sign-on. The row",
        "  `--without-sso --plan premium` is kensa making the same calls (and its own extra",
        f"  checks). {env['BENCH_TESTALL_RUBY']}.",
        "",
    ]
    testall_python_median = None
    if testall:
        lines += [
            row(["command", "median", "min / max", "runs", "own CPU (user + sys, mean)"]),
            row(["---", "---:", "---:", "---:", "---:"]),
        ]
        for name, r in testall.items():
            m, mn, mx, n = stats(r)
            cpu = ms(r["user"] + r["system"])
            if name == "kensa test all: python provider":
                testall_python_median = m
            lines.append(row([f"`{name}`", fmt(m), f"{fmt(mn)} / {fmt(mx)}", n, fmt(cpu)]))
            say.append(f"{name:62} {m:8.2f} ms   (own CPU {cpu:.2f} ms)")
        ruby = next((r for name, r in testall.items() if name.startswith("Ruby kensa")), None)
        lean = testall.get("kensa test all --without-sso --plan premium: python provider")
        if ruby and lean:
            ratio = ruby["median"] / lean["median"]
            lines += ["", f"The Ruby kensa takes {ratio:.0f}x kensa's time for the same calls; most "
                      "of it is Ruby loading its gems."]
        lines += ["", "The rest of the wall time (beyond kensa's own CPU) is the provider's and "
                  "the round trips', on the same CPUs."]
    else:
        lines.append("Not measured (see above).")
        say.append("test all: not measured")
    lines.append("")

    # scale -------------------------------------------------------------------------
    lines += [
        "## `kensa create` from a local template of many small files",
        "",
        "Generated by the script: 1 file in 4 is a `.tera` file using `{{ name }}`, `{{ id }}` and",
        "`{{ name | json_encode }}`, the rest are copied; 100 files per directory, three levels",
        "deep; about 250 bytes each. `kensa create <dir>/out/p --template <dir>/big-N --no-input`",
        "against `cp -r <dir>/big-N <dir>/out/p` (the same tree, no rendering: the floor set by the",
        "filesystem). Before each run the output is removed and `sync` run (not timed). Once on",
        "the work directory's filesystem, once on tmpfs (`/dev/shm`) where there is one.",
    ]
    scale_by_fs = {}
    for fs in env.get("BENCH_SCALE_FS", "").split():
        data = load(work, f"scale-{fs}")
        label = f"{env['BENCH_FS']} (work directory)" if fs == "disk" else fs
        med = {n: stats(data[f"kensa create {n} files"]) for n in sizes
               if f"kensa create {n} files" in data}
        cp = {n: stats(data[f"cp -r {n} files"]) for n in sizes if f"cp -r {n} files" in data}
        scale_by_fs[fs] = (label, med, cp)
        lines += ["", f"### on {label}", "",
                  row(["files", "kensa median", "min / max", "runs", "ms per file",
                       "`cp -r` median", "kensa / `cp -r`"]),
                  row(["---:", "---:", "---:", "---:", "---:", "---:", "---:"])]
        for n in sizes:
            if n not in med:
                continue
            m, mn, mx, runs = med[n]
            c = cp.get(n)
            lines.append(row([n, fmt(m), f"{fmt(mn)} / {fmt(mx)}", runs, fmt(m / n, 4),
                              fmt(c[0]) if c else "n/a", f"{m / c[0]:.2f}" if c else "n/a"]))
            say.append(f"create {n:6} files on {fs:5} {m:9.2f} ms   {m / n:.4f} ms/file"
                       + (f"   cp -r {c[0]:9.2f} ms" if c else ""))
        if len(med) >= 2:
            ns = sorted(med)

            def further(table):
                """µs each further file costs, between consecutive sizes."""
                ys = [table[n][0] for n in ns]
                return [(ys[i] - ys[i - 1]) / (ns[i] - ns[i - 1]) * 1000
                        for i in range(1, len(ns))]

            marginal = further(med)
            steps = " → ".join(f"{m:.0f}" for m in marginal)
            per_file = [med[n][0] / n * 1000 for n in ns]
            per_steps = " → ".join(f"{p:.0f}" for p in per_file)
            if len(ns) < 3:
                text = f"{per_steps} µs per file (three sizes are needed to judge)."
            elif per_file[-1] <= 1.25 * min(per_file):
                slope, intercept = statistics.linear_regression(ns, [med[n][0] for n in ns])
                text = (f"**Linear**: {per_steps} µs per file as the tree grows, within 25% of "
                        f"the lowest (each further file: {steps} µs; least-squares fit "
                        f"{intercept:.1f} ms + {slope * 1000:.1f} µs × files).")
            else:
                text = (f"**Worse than linear here**: {per_steps} µs per file as the tree grows "
                        f"(each further file: {steps} µs).")
                if all(n in cp for n in ns):
                    lo, hi = ns[0], ns[-1]
                    cp_per = [cp[n][0] / n * 1000 for n in (lo, hi)]
                    ratio = med[hi][0] / cp[hi][0]
                    text += (f" `cp -r` of the same trees goes from {cp_per[0]:.0f} to "
                             f"{cp_per[1]:.0f} µs per file between {lo} and {hi} files, and "
                             f"kensa takes {ratio:.2f}x the time of `cp -r` at {hi}")
                    if cp_per[1] > 1.25 * cp_per[0] and ratio <= 1.5:
                        text += ": the filesystem sets this curve, not kensa."
                    else:
                        text += ": kensa's own per-file cost grows with the tree."
            lines += ["", text]
            say.append(f"{fs}: " + text.replace("**", "").replace("`", ""))
    lines.append("")

    # goals -------------------------------------------------------------------------
    goals = []
    if create_medians:
        worst_t = max(create_medians, key=create_medians.get)
        goals.append(("`create` < 25 ms median, every embedded template",
                      f"slowest: `{worst_t}` {create_medians[worst_t]:.2f} ms",
                      create_medians[worst_t] < 25))
    if ratios:
        low_t = min(ratios, key=ratios.get)
        goals.append(("`create` ≥ 10x faster than cookiecutter, every template",
                      f"lowest: `{low_t}` {ratios[low_t]:.1f}x", ratios[low_t] >= 10))
    if startup_median is not None:
        goals.append(("start-up (`kensa --version`) < 5 ms median",
                      f"{startup_median:.2f} ms", startup_median < 5))
    if testall_python_median is not None:
        goals.append(("`kensa test all` ≤ 50 ms median against the Python provider (issue 16)",
                      f"{testall_python_median:.2f} ms", testall_python_median <= 50))
    for fs, (label, med, cp) in scale_by_fs.items():
        if 10000 in med:
            m = med[10000][0]
            floor = f" (`cp -r`: {cp[10000][0]:.0f} ms)" if 10000 in cp else ""
            goals.append((f"`create` of 10,000 files < 1 s median, on {label}",
                          f"{m:.0f} ms{floor}", m < 1000))
    lines += ["## Goals (issues 7 and 16)", "", row(["goal", "measured", "result"]),
              row(["---", "---", "---"])]
    for goal, measured, ok in goals:
        lines.append(row([goal, measured, pf(ok)]))
        say.append(f"{'PASS' if ok else 'MISS'}  {goal.replace('`', '')}: {measured.replace('`', '')}")
    lines.append("")

    # Sections other scripts write (bench/update.sh, bench/provision_load.sh) are kept.
    old = Path(results_md).read_text() if Path(results_md).exists() else ""
    kept = re.findall(r"<!-- (bench/[\w.-]+) -->.*?<!-- /\1 -->", old, re.S)
    text = "\n".join(lines)
    for name in kept:
        block = re.search(rf"<!-- {re.escape(name)} -->.*?<!-- /{re.escape(name)} -->", old, re.S)
        text = text.rstrip("\n") + "\n\n" + block.group(0) + "\n"
    Path(results_md).write_text(text)
    print("\n".join(say))
    return 0 if all(ok for _, _, ok in goals) else 3


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "cc-template":
        cc_template(*args)
    elif cmd == "big-template":
        big_template(*args)
    elif cmd == "tree-summary":
        tree_summary(*args)
    elif cmd == "report":
        return report(*args)
    else:
        raise SystemExit(f"unknown command {cmd}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
