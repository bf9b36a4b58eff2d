#!/usr/bin/env python3
"""Small helpers for e2e/run.sh (standard library only, Python 3.11+).

  helpers.py template-command TOML NAME     print template.toml's [commands] NAME
  helpers.py resource FILE                  print "id uuid" of `kensa test provision --format json`
  helpers.py config-var MANIFEST            print the manifest's first config var
  helpers.py legacy-manifest IN OUT PORT    write IN with api.test as the legacy base URL
  helpers.py http-status URL                GET URL (its userinfo as Basic auth), print the status
  helpers.py checks-passed FILE ID …        exit 0 when each check ID of kensa's --format json
                                            report in FILE passed (not skipped) and no other
                                            check failed or warned; else say which, exit 1
  helpers.py kensa-waiting LOG              from `kensa --verbose` stderr in LOG: exit 0 when the
                                            first answer was 202 and no request awaits an answer
                                            (kensa waits for callbacks), 2 when the first answer
                                            was not 202, 1 when not yet
"""

import base64
import json
import re
import sys
import tomllib
import urllib.error
import urllib.parse
import urllib.request


def template_command(toml_path, name):
    with open(toml_path, "rb") as f:
        spec = tomllib.load(f)
    command = spec.get("commands", {}).get(name)
    if not isinstance(command, str) or not command.strip():
        sys.exit(f"{toml_path} has no [commands] {name}")
    print(command)


def resource(path):
    with open(path) as f:
        doc = json.load(f)
    res = doc.get("resource") or {}
    if not res.get("id") or not res.get("uuid"):
        sys.exit(f"{path}: no resource id and uuid in kensa's JSON output")
    print(res["id"], res["uuid"])


def config_var(manifest):
    with open(manifest) as f:
        names = json.load(f)["api"]["config_vars"]
    if not names:
        sys.exit(f"{manifest}: api.config_vars is empty")
    print(names[0])


def legacy_manifest(src, dst, port):
    with open(src) as f:
        m = json.load(f)
    m["api"]["test"] = f"http://localhost:{port}/"
    with open(dst, "w") as f:
        json.dump(m, f, indent=2)


def http_status(url):
    parts = urllib.parse.urlsplit(url)
    netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
    request = urllib.request.Request(bare, headers={"Accept": "application/json"})
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            print(response.status)
    except urllib.error.HTTPError as e:
        print(e.code)


def checks_passed(path, *ids):
    """A skipped check does not fail kensa: a scenario that must prove one passes asks here."""
    with open(path) as f:
        doc = json.load(f)
    status = {}
    for section in doc.get("sections", []):
        for check in section.get("checks", []):
            status.setdefault(check["id"], []).append((check["status"], check.get("message")))
    bad = [
        f"{name}: {s}" + (f" ({m})" if m else "")
        for name, seen in status.items()
        if name not in ids
        for s, m in seen
        if s in ("fail", "warn")
    ]
    for want in ids:
        seen = status.get(want)
        if not seen:
            bad.append(f"{want}: not reported")
        else:
            bad += [f"{want}: {s}" + (f" ({m})" if m else "") for s, m in seen if s != "pass"]
    for line in bad:
        print(f"e2e: {line}")
    sys.exit(1 if bad else 0)


REQUEST = re.compile(r"^> (GET|POST|PUT|PATCH|DELETE|HEAD) ")
ANSWER = re.compile(r"^< \d{3} \(")


def kensa_waiting(log):
    """kensa --verbose writes `> METHOD url` before each request and `< STATUS (N ms)` after
    its answer: as many answers as requests means no request of kensa's is in flight."""
    requests, answers = 0, []
    with open(log, errors="replace") as f:
        for line in f:
            requests += bool(REQUEST.match(line))
            if ANSWER.match(line):
                answers.append(line[2:5])
    if answers and answers[0] != "202":
        print(f"the provision was answered {answers[0]}, not 202", file=sys.stderr)
        sys.exit(2)
    sys.exit(0 if answers and len(answers) == requests else 1)


def main(argv):
    commands = {
        "template-command": template_command,
        "resource": resource,
        "config-var": config_var,
        "legacy-manifest": legacy_manifest,
        "http-status": http_status,
        "kensa-waiting": kensa_waiting,
        "checks-passed": checks_passed,
    }
    if len(argv) < 2 or argv[1] not in commands:
        sys.exit(__doc__)
    commands[argv[1]](*argv[2:])


if __name__ == "__main__":
    main(sys.argv)
