#!/usr/bin/env python3
"""Provisioning load against a running provider service (standard library only, 3.11+).

  provision_load.py run URL LABEL OUT.json [--count N] [--concurrency C] [--warmup W]
      POSTs N v3 provision requests (plan `test`, a new uuid each, Basic auth from the
      HEROKU_USERNAME and HEROKU_PASSWORD environment variables) to URL/heroku/resources,
      C at a time, after W warm-up requests that are checked but not timed. Every answer
      must be 200 or 201 with a JSON body holding an `id` (all ids distinct) and a `config`
      object; anything else, a timeout or a connection error is a failure. Writes the
      numbers to OUT.json; exits 1 if any request failed.
  provision_load.py report RESULTS_MD MACHINE.json RESULT.json...
      writes the results as the provision-load section of RESULTS_MD (between the
      <!-- bench/provision_load.sh --> markers, which bench/helpers.py keeps when it rewrites
      the rest).

Each request goes on a connection of its own (as separate deliveries from Heroku would).
"""

import argparse
import base64
import http.client
import json
import math
import os
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

BEGIN = "<!-- bench/provision_load.sh -->"
END = "<!-- /bench/provision_load.sh -->"
TIMEOUT = 30


def v3_body(addon_id):
    """What Heroku sends for a synchronous v3 provision (plan `test`)."""
    u = str(uuid.uuid4())
    expires = datetime.now(timezone.utc) + timedelta(minutes=5)
    return u, json.dumps({
        "uuid": u,
        "name": f"{addon_id}-{u[:8]}",
        "plan": "test",
        "region": "amazon-web-services::us-east-1",
        "callback_url": f"https://api.heroku.com/addons/{u}",
        "oauth_grant": {
            "code": str(uuid.uuid4()),
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "type": "authorization_code",
        },
        "options": {},
    })


def provision(host, port, path, headers, addon_id):
    """One request on its own connection; returns (seconds, id or None, error or None)."""
    _, body = v3_body(addon_id)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
    except (OSError, http.client.HTTPException) as e:
        return time.perf_counter() - started, None, f"{type(e).__name__}: {e}"
    finally:
        conn.close()
    if response.status not in (200, 201):
        return elapsed, None, f"HTTP {response.status}: {data[:200]!r}"
    try:
        answer = json.loads(data)
    except ValueError:
        return elapsed, None, f"HTTP {response.status} with a body that is not JSON: {data[:200]!r}"
    rid = answer.get("id") if isinstance(answer, dict) else None
    if rid in (None, "") or not isinstance(answer.get("config"), dict):
        return elapsed, None, f"HTTP {response.status} without an id and a config: {data[:200]!r}"
    return elapsed, str(rid), None


def load(url, count, concurrency):
    """Runs `count` provisions, `concurrency` at a time. Returns (latencies, ids, errors, wall)."""
    parts = urllib.parse.urlsplit(url)
    user, password = os.environ["HEROKU_USERNAME"], os.environ["HEROKU_PASSWORD"]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    headers = {"Content-Type": "application/json", "Authorization": f"Basic {token}"}
    path = parts.path.rstrip("/") + "/heroku/resources"
    latencies, ids, errors = [], [], []
    lock = threading.Lock()
    next_index = iter(range(count))

    def worker():
        while True:
            with lock:
                if next(next_index, None) is None:
                    return
            elapsed, rid, error = provision(parts.hostname, parts.port, path, headers, user)
            with lock:
                latencies.append(elapsed)
                if error:
                    errors.append(error)
                else:
                    ids.append(rid)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, ids, errors, time.perf_counter() - started


def percentile(sorted_values, p):
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def run(args):
    _, warm_ids, warm_errors, _ = load(args.url, args.warmup, args.concurrency) if args.warmup \
        else ([], [], [], 0)
    cpu0 = os.times()
    latencies, ids, errors, wall = load(args.url, args.count, args.concurrency)
    cpu1 = os.times()
    errors = warm_errors + errors
    duplicates = len(ids) + len(warm_ids) - len(set(ids) | set(warm_ids))
    if duplicates:
        errors.append(f"{duplicates} answers repeated an id given to another uuid")
    lat = sorted(latencies)
    result = {
        "label": args.label,
        "count": args.count,
        "concurrency": args.concurrency,
        "warmup": args.warmup,
        "ok": len(ids),
        "failed": len(errors),
        "errors": errors[:5],
        "wall_s": wall,
        "rps": args.count / wall,
        "p50_ms": percentile(lat, 50) * 1000,
        "p99_ms": percentile(lat, 99) * 1000,
        "max_ms": lat[-1] * 1000,
        "mean_ms": sum(lat) / len(lat) * 1000,
        "client_cpu_s": (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system),
    }
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{args.label}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.1f} ms, "
          f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms; "
          f"{result['ok']} ok, {result['failed']} failed")
    for e in result["errors"]:
        print(f"  failure: {e}", file=sys.stderr)
    return 1 if errors else 0


def report(results_md, machine_json, *result_files):
    machine = json.loads(Path(machine_json).read_text())
    results = [json.loads(Path(f).read_text()) for f in result_files]
    m = machine
    lines = [
        BEGIN,
        f"## Provisioning under load: {m['count']:,} resources, {m['concurrency']} at a time",
        "",
        "Written by `bash bench/provision_load.sh` "
        f"({m['date']}; {m['cpu']}, `nproc` = {m['nproc']}; {m['mem']}; {m['os']}).",
        "",
        "Method: for each template and database, a fresh project (`kensa create`, its",
        "dependencies installed as `e2e/lib.sh` does, the Procfile's `release:` line run), its",
        "`web:` process started with `.env` and `PORT` (and `DATABASE_URL` for Postgres); then",
        f"`bench/provision_load.py` sends {m['warmup']} warm-up provisions (checked, not timed)",
        f"and {m['count']:,} timed ones, {m['concurrency']} at a time from {m['concurrency']} "
        "threads, each on a new",
        "connection: `POST /heroku/resources` with Heroku's Basic auth and a v3 body (new `uuid`,",
        "plan `test`, `callback_url` on api.heroku.com, an `oauth_grant`). Every answer must be",
        "200/201 with an `id` (all distinct) and a `config`; one failure fails the run.",
        "Latency is the client's, from connect to the last byte; throughput is timed provisions",
        f"over the wall time. Postgres: PostgreSQL {m['postgres']} from Debian, a private cluster with",
        "default settings (fsync on) on the same machine, a fresh database per run; the embedded",
        "database is each template's default under `data/`. Client, service and Postgres share",
        f"the {m['nproc']} CPUs; load average before the runs: {m['load_before']}, after: "
        f"{m['load_after']}.",
        f"Versions: {m['versions']}.",
        "",
        "| template | database | req/s | p50 ms | p99 ms | max ms | failed | client CPU s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        template, database = r["label"].split("/", 1)
        lines.append(f"| `{template}` | {database} | {r['rps']:.0f} | {r['p50_ms']:.1f} | "
                     f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['failed']} | "
                     f"{r['client_cpu_s']:.1f} |")
    missing = m.get("missing") or []
    if missing:
        lines += ["", "Not measured (the run failed before the load): "
                  + ", ".join(f"`{x}`" for x in missing) + "."]
    lines += ["", END]
    section = "\n".join(lines)
    path = Path(results_md)
    text = path.read_text() if path.exists() else "# kensa benchmark results\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)
    print(f"wrote the provision-load section of {results_md}")


def main(argv):
    if len(argv) > 1 and argv[1] == "report":
        report(*argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("url")
    r.add_argument("label")
    r.add_argument("out")
    r.add_argument("--count", type=int, default=1000)
    r.add_argument("--concurrency", type=int, default=32)
    r.add_argument("--warmup", type=int, default=100)
    return run(parser.parse_args(argv[1:]))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
