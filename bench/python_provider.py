"""A small add-on provider on Python's standard library only, for bench/run.sh: what a
provider written without a framework looks like to kensa (issue 16).

Serves the provider API on 127.0.0.1:$PORT over HTTP/1.1 (keep-alive, as Python's server
does it: the head and the body go out in separate writes), one thread per connection:

- Basic auth: the manifest's id and HEROKU_PASSWORD (HEROKU_USERNAME, when set, is the
  user);
- POST /heroku/resources: the same uuid gives the same resource, an unknown plan gets 422
  with a message, a deprovisioned uuid gets 410, unknown fields are ignored; config
  <PREFIX>_URL;
- PUT /heroku/resources/<id>: a plan change (422 for an unknown plan);
- DELETE /heroku/resources/<id>: 200, then 410 for a repeat;
- POST /sso/login: the v3 resource_token (sha1(uuid:salt:timestamp)) or the v1 token
  (sha1(id:salt:timestamp)), a timestamp within 5 minutes either way, then a session
  cookie and the heroku-nav-data cookie, and a redirect to a page with the Heroku header.

Environment: PORT, HEROKU_PASSWORD, SSO_SALT, CONFIG_PREFIX (default MY_ADDON), and
HEROKU_USERNAME (default: the user is not checked beyond the password).
"""
import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER = os.environ.get("HEROKU_USERNAME")
PASSWORD = os.environ["HEROKU_PASSWORD"]
SALT = os.environ.get("SSO_SALT", "")
PREFIX = os.environ.get("CONFIG_PREFIX", "MY_ADDON")
PLANS = ("test", "basic", "premium")
SKEW = 300  # seconds a sign-on's timestamp may be off, either way

lock = threading.Lock()
by_uuid = {}  # uuid -> resource
by_id = {}  # id -> resource
gone = set()  # deprovisioned uuids and ids
sessions = {}  # session cookie -> resource id


def config_for(resource):
    return {PREFIX + "_URL": "https://db.example.com/" + resource["id"]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "python-provider/1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, body=None, content_type="application/json", headers=()):
        if body is None:
            data = b""
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()  # the head: one write
        if data:
            self.wfile.write(data)  # the body: another

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def json_body(self):
        try:
            value = json.loads(self.body() or b"{}")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def authorised(self):
        given = self.headers.get("Authorization", "")
        if not given.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(given[6:]).decode().partition(":")
        except ValueError:
            return False
        if USER is not None and not hmac.compare_digest(user, USER):
            return False
        return hmac.compare_digest(password, PASSWORD)

    def resource_path(self):
        prefix = "/heroku/resources/"
        if self.path.startswith(prefix):
            return urllib.parse.unquote(self.path[len(prefix):])
        return None

    # --- provision -------------------------------------------------------------------------

    def do_POST(self):
        if self.path == "/sso/login":
            return self.sign_on()
        if self.path != "/heroku/resources":
            self.body()
            return self.send(404, {"message": "no such route"})
        if not self.authorised():
            self.body()
            return self.send(401, {"message": "bad credentials"})
        request = self.json_body()
        if request is None or not isinstance(request.get("uuid"), str):
            return self.send(400, {"message": "expected a JSON object with a uuid"})
        plan = request.get("plan")
        if plan not in PLANS:
            return self.send(422, {"message": f"Unknown plan {plan!r}; plans: {', '.join(PLANS)}."})
        uuid = request["uuid"]
        with lock:
            if uuid in gone:
                return self.send(410, {"message": "this resource was deprovisioned"})
            resource = by_uuid.get(uuid)
            if resource is None:
                resource = {"id": "r-" + secrets.token_hex(8), "uuid": uuid, "plan": plan}
                by_uuid[uuid] = resource
                by_id[resource["id"]] = resource
        self.send(200, {"id": resource["id"], "config": config_for(resource),
                        "message": "provisioned"})

    # --- plan change -----------------------------------------------------------------------

    def do_PUT(self):
        request = self.json_body()
        if not self.authorised():
            return self.send(401, {"message": "bad credentials"})
        rid = self.resource_path()
        with lock:
            resource = by_id.get(rid)
        if resource is None:
            return self.send(404, {"message": "no such resource"})
        plan = (request or {}).get("plan")
        if plan not in PLANS:
            return self.send(422, {"message": f"Unknown plan {plan!r}; plans: {', '.join(PLANS)}."})
        resource["plan"] = plan
        self.send(200, {"config": config_for(resource), "message": "plan changed to " + plan})

    # --- deprovision -----------------------------------------------------------------------

    def do_DELETE(self):
        self.body()
        if not self.authorised():
            return self.send(401, {"message": "bad credentials"})
        rid = self.resource_path()
        with lock:
            resource = by_id.pop(rid, None)
            if resource is None:
                if rid in gone:
                    return self.send(410, {"message": "already deprovisioned"})
                return self.send(404, {"message": "no such resource"})
            by_uuid.pop(resource["uuid"], None)
            gone.update((rid, resource["uuid"]))
        self.send(200, {"message": "deprovisioned"})

    # --- single sign-on --------------------------------------------------------------------

    def sign_on(self):
        form = dict(urllib.parse.parse_qsl(self.body().decode("utf-8", "replace")))
        timestamp = form.get("timestamp", "")
        try:
            fresh = abs(time.time() - int(timestamp)) <= SKEW
        except ValueError:
            fresh = False
        uuid, rid = form.get("resource_id"), form.get("id")
        with lock:
            resource = by_uuid.get(uuid) if uuid else by_id.get(rid)
        if uuid:
            want, given = f"{uuid}:{SALT}:{timestamp}", form.get("resource_token", "")
        else:
            want, given = f"{rid}:{SALT}:{timestamp}", form.get("token", "")
        digest = hashlib.sha1(want.encode()).hexdigest()
        if not fresh or not hmac.compare_digest(digest, given):
            return self.send(403, b"<html><body>Forbidden</body></html>", "text/html")
        if resource is None:
            return self.send(404, b"<html><body>No such resource</body></html>", "text/html")
        session = secrets.token_urlsafe(16)
        with lock:
            sessions[session] = resource["id"]
        nav = urllib.parse.quote(form.get("nav-data", ""), safe="")
        self.send(302, headers=(
            ("Location", "/dashboard"),
            ("Set-Cookie", f"session={session}; Path=/; HttpOnly"),
            ("Set-Cookie", f"heroku-nav-data={nav}; Path=/"),
        ))

    def do_GET(self):
        if self.path != "/dashboard":
            return self.send(404, {"message": "not found"})
        cookies = dict(
            part.strip().split("=", 1)
            for part in self.headers.get("Cookie", "").split(";")
            if "=" in part
        )
        with lock:
            rid = sessions.get(cookies.get("session", ""))
        if rid is None:
            return self.send(403, b"<html><body>Sign in through Heroku</body></html>", "text/html")
        page = (
            '<html><body><div id="heroku-header"></div>'
            f"<h1>Resource {rid}</h1></body></html>"
        ).encode()
        self.send(200, page, "text/html")


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    server.daemon_threads = True
    print(f"python provider listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
