#!/usr/bin/env python3
"""A mock of GitHub's REST API for Actions environment secrets, for the tests
of `envx sync github`. It serves the few endpoints envx uses (public key,
list, get, put, delete of environment secrets) the way GitHub answers them,
keeps the decrypted values so a test can check them byte for byte, and has a
control API under /_mock/ to set state, inject faults and read a request log.
Standard library only, plus libsodium through ctypes for the sealed boxes.

    python3 github_mock.py --port-file FILE [--token TOKEN] [--log FILE]

It listens on 127.0.0.1 only, on a port the kernel picks, writes that port to
FILE once listening and serves until SIGTERM, SIGINT or POST /_mock/shutdown.
See README.md in this directory for the full interface."""
import argparse
import base64
import binascii
import ctypes
import hmac
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

API_VERSION = "2022-11-28"
DOCS_URL = "https://docs.github.com/rest"
SECRET_DOCS_URL = ("https://docs.github.com/rest/actions/secrets"
                   "#create-or-update-an-environment-secret")
# GitHub's documented limits: 48 KB per secret, 100 secrets per environment,
# 100 items per page (30 unless asked).
MAX_VALUE_BYTES = 48 * 1024
MAX_BODY_BYTES = 1024 * 1024
RATE_LIMIT = 5000
NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# the shapes of path this mock answers, after /repos/{owner}/{repo}
ENV_PATH_RE = re.compile(
    r"/repos/([^/]+)/([^/]+)/environments/([^/]+)/secrets(?:/([^/]+))?")
REPO_KEY_RE = re.compile(r"/repos/([^/]+)/([^/]+)/actions/secrets/public-key")


class Sodium:
    """The three libsodium calls GitHub's secret encryption needs: an X25519
    keypair, and sealing to / opening from a public key (crypto_box_seal)."""

    PUBLICKEYBYTES = 32
    SECRETKEYBYTES = 32
    SEALBYTES = 48

    def __init__(self):
        self.lib = ctypes.CDLL("libsodium.so.23")
        if self.lib.sodium_init() < 0:
            raise RuntimeError("sodium_init failed")
        ull = ctypes.c_ulonglong
        self.lib.crypto_box_seal.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ull, ctypes.c_char_p]
        self.lib.crypto_box_seal_open.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ull, ctypes.c_char_p,
            ctypes.c_char_p]

    def keypair(self):
        pk = ctypes.create_string_buffer(self.PUBLICKEYBYTES)
        sk = ctypes.create_string_buffer(self.SECRETKEYBYTES)
        if self.lib.crypto_box_keypair(pk, sk) != 0:
            raise RuntimeError("crypto_box_keypair failed")
        return pk.raw, sk.raw

    def seal(self, message, pk):
        out = ctypes.create_string_buffer(len(message) + self.SEALBYTES)
        if self.lib.crypto_box_seal(out, message, len(message), pk) != 0:
            raise RuntimeError("crypto_box_seal failed")
        return out.raw

    def seal_open(self, box, pk, sk):
        """The plaintext, or None when box was not sealed to pk."""
        if len(box) < self.SEALBYTES:
            return None
        out = ctypes.create_string_buffer(len(box) - self.SEALBYTES + 1)
        if self.lib.crypto_box_seal_open(out, box, len(box), pk, sk) != 0:
            return None
        return out.raw[:len(box) - self.SEALBYTES]


class Keypair:
    """A public key as GitHub hands it out: a key_id (GitHub's are long
    decimal strings) and the base64 of the 32-byte X25519 public key."""

    def __init__(self, sodium):
        self.pk, self.sk = sodium.keypair()
        self.key_id = str(secrets.randbelow(9 * 10**17) + 10**17)

    def public(self):
        return base64.b64encode(self.pk).decode()


class Environment:
    def __init__(self, sodium):
        self.key = Keypair(sodium)
        # NAME (upper-cased) -> {"value": bytes, "created_at", "updated_at"}
        self.secrets = {}


class ControlError(Exception):
    """A bad request to the control API: 400 (or the given status)."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


class Rule:
    """One injected fault (POST /_mock/inject). It matches requests by method
    and a regular expression searched in the path with its query; the first
    `after` matching requests pass, the next `count` (-1: all) get the
    fault."""

    PRESETS = {
        # a primary rate limit: no requests left until x-ratelimit-reset
        "rate-limit": {
            "status": 403,
            "body": {"message": "API rate limit exceeded for user ID 1.",
                     "documentation_url": DOCS_URL + "/using-the-rest-api/"
                     "rate-limits-for-the-rest-api"},
            "headers": {"x-ratelimit-limit": str(RATE_LIMIT),
                        "x-ratelimit-remaining": "0",
                        "x-ratelimit-used": str(RATE_LIMIT),
                        "x-ratelimit-resource": "core"},
            "reset_in": 60,
        },
        # too many requests, retry after retry_after seconds
        "too-many-requests": {
            "status": 429,
            "body": {"message": "API rate limit exceeded. Retry later.",
                     "documentation_url": DOCS_URL},
            "retry_after": 1,
        },
        # a secondary rate limit: 403, the usual rate headers (requests
        # left), no retry-after; the client must wait a minute on its own
        "secondary-rate-limit": {
            "status": 403,
            "body": {"message": "You have exceeded a secondary rate limit. "
                     "Please wait a few minutes before you try again.",
                     "documentation_url": DOCS_URL},
        },
    }
    FIELDS = {"method", "path_regex", "status", "body", "headers", "count",
              "after", "delay_ms", "close", "reset_in", "retry_after",
              "preset"}

    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise ControlError("a rule must be an object")
        unknown = set(spec) - self.FIELDS
        if unknown:
            raise ControlError(f"unknown rule field '{sorted(unknown)[0]}'")
        preset = spec.get("preset")
        if preset is not None and preset not in self.PRESETS:
            raise ControlError(f"unknown preset '{preset}'")
        # the rule's own fields win over the preset's; headers merge
        merged = dict(self.PRESETS.get(preset, {}))
        headers = dict(merged.get("headers", {}))
        merged.update(spec)
        headers.update(spec.get("headers") or {})
        self.method = str(merged.get("method", "*")).upper()
        try:
            self.path_re = re.compile(merged.get("path_regex", ""))
        except re.error as e:
            raise ControlError(f"bad path_regex: {e}")
        self.status = merged.get("status")
        self.body = merged.get("body")
        self.headers = {str(k).lower(): str(v) for k, v in headers.items()}
        self.count = merged.get("count", 1)
        self.after = merged.get("after", 0)
        self.delay_ms = merged.get("delay_ms", 0)
        self.close = bool(merged.get("close", False))
        self.reset_in = merged.get("reset_in")
        self.retry_after = merged.get("retry_after")
        for name in ("count", "after", "delay_ms"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or (
                    v < 0 and not (name == "count" and v == -1)):
                raise ControlError(f"bad {name} in rule")
        if self.status is not None and (not isinstance(self.status, int)
                                        or not 100 <= self.status <= 599):
            raise ControlError("bad status in rule")
        self.seen = 0      # matching requests so far
        self.applied = 0   # of which got this rule's fault

    def take(self, method, target):
        """Counts a request against the rule; True when it gets the fault."""
        if self.method not in ("*", method):
            return False
        if not self.path_re.search(target):
            return False
        self.seen += 1
        if self.seen <= self.after:
            return False
        if self.count != -1 and self.applied >= self.count:
            return False
        self.applied += 1
        return True

    def response_headers(self):
        """The rule's headers, with reset_in and retry_after turned into
        x-ratelimit-reset and retry-after at the time of the request."""
        h = dict(self.headers)
        if self.reset_in is not None:
            h["x-ratelimit-reset"] = str(int(time.time()) + int(self.reset_in))
        if self.retry_after is not None:
            h["retry-after"] = str(int(self.retry_after))
        return h


class State:
    """Everything the mock knows, behind one lock. Handlers never sleep or
    do I/O while holding it."""

    def __init__(self, token):
        self.lock = threading.Lock()
        self.sodium = Sodium()
        self.token = token.encode()
        self.envs = {}        # (owner/repo, environment) -> Environment
        self.repo_keys = {}   # owner/repo -> Keypair (repository secrets)
        self.per_page_max = 100
        self.max_secrets = 100
        self.rules = []
        self.clock = 0        # the last timestamp handed out (epoch s)
        self.rate_used = 0
        self.rate_reset = int(time.time()) + 3600
        self.next_conn = 0
        self.reset_log()

    def reset_log(self):
        self.log = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.conns = set()
        self.writes = 0
        self.requests = 0

    def tick(self):
        """A timestamp for a write: the current time, but always at least a
        second after the previous one, so that updated_at (which GitHub gives
        in whole seconds) strictly increases with every write."""
        self.clock = max(int(time.time()), self.clock + 1)
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock))

    def create_env(self, repo, env):
        if (repo, env) not in self.envs:
            self.envs[(repo, env)] = Environment(self.sodium)
        if repo not in self.repo_keys:
            self.repo_keys[repo] = Keypair(self.sodium)
        return self.envs[(repo, env)]

    def store(self, env, name, value):
        """Creates or updates a secret; True when it was created."""
        stamp = self.tick()
        old = env.secrets.get(name)
        env.secrets[name] = {
            "value": value,
            "created_at": old["created_at"] if old else stamp,
            "updated_at": stamp,
        }
        return old is None


def error_body(message, status, **extra):
    body = {"message": message, "documentation_url": DOCS_URL,
            "status": str(status)}
    body.update(extra)
    return body


def validation_failed(message, field=None):
    """(422, GitHub's body, no extra headers): a message and, for a field,
    an errors entry."""
    extra = {"documentation_url": SECRET_DOCS_URL}
    if field is not None:
        extra["errors"] = [{"resource": "Secret", "field": field,
                            "code": "invalid", "message": message}]
    return 422, error_body(message, 422, **extra), {}


def strict_b64(text):
    """Standard base64 with padding (what GitHub expects), else None."""
    if not isinstance(text, str) or len(text) % 4 != 0:
        return None
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "github-mock"
    sys_version = ""
    # headers and body are two writes: without TCP_NODELAY the body would
    # wait for the client's delayed ACK (40 ms a response on Linux)
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        state = self.server.state
        with state.lock:
            state.next_conn += 1
            self.conn_id = state.next_conn

    def version_string(self):
        return self.server_version

    def log_message(self, format, *args):
        # http.server would print every request to stderr; the mock writes
        # its own log (--log) instead
        pass

    # -- request plumbing -------------------------------------------------

    def read_body(self):
        """The request body (Content-Length or chunked), or None when it is
        too large or malformed; the connection is then closed."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                line = self.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    return None
                if size == 0:
                    # trailers, up to the empty line
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n",
                                                            b""):
                        pass
                    return data
                if len(data) + size > MAX_BODY_BYTES:
                    return None
                data += self.rfile.read(size)
                self.rfile.readline(1024)
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if length < 0 or length > MAX_BODY_BYTES:
            return None
        return self.rfile.read(length) if length else b""

    def send(self, status, body=None, headers=None):
        """One response, always with Content-Length so the connection can
        carry the next request. body: dict/list (JSON), str, bytes or None."""
        if body is None:
            data, ctype = b"", None
        elif isinstance(body, (bytes, bytearray)):
            data, ctype = bytes(body), "application/octet-stream"
        elif isinstance(body, str):
            data, ctype = body.encode(), "text/plain; charset=utf-8"
        else:
            data = json.dumps(body).encode()
            ctype = "application/json; charset=utf-8"
        self.send_response(status)
        h = {}
        if ctype:
            h["content-type"] = ctype
        h.update(headers or {})
        h["content-length"] = str(len(data))
        for k, v in h.items():
            self.send_header(k, v)
        self.end_headers()
        if data:
            self.wfile.write(data)
        self.wfile.flush()
        self.status_sent = status

    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def do_HEAD(self):
        # no body may follow a HEAD response: answer 404 without one
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def dispatch(self):
        self.status_sent = None
        body = self.read_body()
        if body is None:
            self.close_connection = True
            self.send(413, error_body("Request body too large or malformed",
                                      413), {"connection": "close"})
            return
        url = urlsplit(self.path)
        if url.path.startswith("/_mock/"):
            self.control(url, body)
        else:
            self.api(url, body)

    # -- the GitHub API ---------------------------------------------------

    def api(self, url, body):
        state = self.server.state
        start = time.time()
        auth = self.check_auth()
        with state.lock:
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            state.conns.add(self.conn_id)
            state.requests += 1
            rule = next((r for r in state.rules
                         if r.take(self.command, self.path)), None)
        # every record holds what the test may check about the request, and
        # never the token or a value
        record = {
            "method": self.command,
            "path": self.path,
            "accept": self.headers.get("Accept"),
            "api_version": self.headers.get("X-GitHub-Api-Version"),
            "user_agent": self.headers.get("User-Agent"),
            "auth": auth,
            "connection": self.conn_id,
            "start": start,
            "injected": rule is not None,
        }
        try:
            if rule is not None and rule.delay_ms:
                time.sleep(rule.delay_ms / 1000)
            if rule is not None and rule.close:
                # drop the connection without a byte of response
                self.close_connection = True
            elif rule is not None and rule.status is not None:
                b = rule.body
                if b is None:
                    b = error_body(self.responses.get(rule.status, ("",))[0]
                                   or "Error", rule.status)
                headers = self.github_headers()
                headers.update(rule.response_headers())
                self.send(rule.status, b, headers)
            else:
                if self.command in ("PUT", "DELETE"):
                    with state.lock:
                        state.writes += 1
                try:
                    status, rbody, extra = self.route(url, body, auth)
                except Exception:
                    # a bug in the mock: say so loudly rather than drop
                    # the connection like an injected close would
                    traceback.print_exc()
                    status, rbody, extra = 500, error_body(
                        "mock internal error", 500), {}
                headers = self.github_headers()
                headers.update(extra)
                self.send(status, rbody, headers)
        finally:
            with state.lock:
                state.in_flight -= 1
                record["end"] = time.time()
                record["status"] = self.status_sent
                state.log.append(record)
            self.server.write_log(record)

    def check_auth(self):
        """'ok', 'missing' or 'bad' (wrong token or not a Bearer token)."""
        value = self.headers.get("Authorization")
        if value is None:
            return "missing"
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return "bad"
        ok = hmac.compare_digest(token.strip().encode(),
                                 self.server.state.token)
        return "ok" if ok else "bad"

    def github_headers(self):
        """The headers GitHub sends with every API response."""
        state = self.server.state
        with state.lock:
            now = int(time.time())
            if now >= state.rate_reset:
                state.rate_used, state.rate_reset = 0, now + 3600
            state.rate_used += 1
            used, reset = state.rate_used, state.rate_reset
        return {
            "x-github-api-version-selected": API_VERSION,
            "x-github-media-type": "github.v3; format=json",
            "x-github-request-id": secrets.token_hex(8).upper(),
            "x-ratelimit-limit": str(RATE_LIMIT),
            "x-ratelimit-remaining": str(max(RATE_LIMIT - used, 0)),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-used": str(used),
            "x-ratelimit-resource": "core",
        }

    def route(self, url, body, auth):
        """(status, body, extra headers) for a GitHub API request."""
        if auth != "ok":
            return 401, error_body("Bad credentials", 401), {}
        version = self.headers.get("X-GitHub-Api-Version")
        if version is not None and version != API_VERSION:
            return 400, error_body(
                f"No such API version '{version}'. Supported: "
                f"{API_VERSION}", 400), {}
        state = self.server.state
        path = url.path
        m = REPO_KEY_RE.fullmatch(path)
        if m and self.command == "GET":
            repo = unquote(m[1]) + "/" + unquote(m[2])
            with state.lock:
                key = state.repo_keys.get(repo)
            if key is None:
                return 404, error_body("Not Found", 404), {}
            return 200, {"key_id": key.key_id, "key": key.public()}, {}
        m = ENV_PATH_RE.fullmatch(path)
        if not m:
            return 404, error_body("Not Found", 404), {}
        repo = unquote(m[1]) + "/" + unquote(m[2])
        env_name, name = unquote(m[3]), m[4] and unquote(m[4])
        with state.lock:
            env = state.envs.get((repo, env_name))
            if env is None:
                return 404, error_body("Not Found", 404), {}
            if name is None:
                if self.command == "GET":
                    return self.list_secrets(url, env)
            elif name == "public-key":
                if self.command == "GET":
                    return 200, {"key_id": env.key.key_id,
                                 "key": env.key.public()}, {}
            elif self.command == "GET":
                s = env.secrets.get(name.upper())
                if s is None:
                    return 404, error_body("Not Found", 404), {}
                return 200, describe(name.upper(), s), {}
            elif self.command == "PUT":
                return self.put_secret(env, name, body)
            elif self.command == "DELETE":
                if env.secrets.pop(name.upper(), None) is None:
                    return 404, error_body("Not Found", 404), {}
                return 204, None, {}
        return 404, error_body("Not Found", 404), {}

    def list_secrets(self, url, env):
        """One page of the environment's secrets, sorted by name, with a
        Link header to the others (called with the lock held)."""
        state = self.server.state
        query = dict(parse_qsl(url.query))
        per_page = int_param(query.get("per_page"), 30)
        per_page = min(per_page if per_page >= 1 else 30, state.per_page_max)
        page = max(1, int_param(query.get("page"), 1))
        names = sorted(env.secrets)
        chunk = names[(page - 1) * per_page:page * per_page]
        body = {"total_count": len(names),
                "secrets": [describe(n, env.secrets[n]) for n in chunk]}
        last = max(1, -(-len(names) // per_page))
        links = []
        host = self.headers.get("Host") or "%s:%d" % self.server.server_address

        def link(p, rel):
            q = dict(query, page=str(p))
            links.append(f'<http://{host}{url.path}?{urlencode(q)}>; '
                         f'rel="{rel}"')

        # GitHub's order, and no Link at all when everything fits one page
        if page > 1:
            link(min(page - 1, last), "prev")
        if page < last:
            link(page + 1, "next")
            link(last, "last")
        if page > 1:
            link(1, "first")
        return 200, body, {"link": ", ".join(links)} if links else {}

    def put_secret(self, env, name, body):
        """Create or update, validated as GitHub does (lock held)."""
        state = self.server.state
        if not NAME_RE.fullmatch(name):
            return validation_failed(
                "Secret names can only contain alphanumeric characters "
                "([a-z], [A-Z], [0-9]) or underscores (_), and must not "
                "start with a number.", "name")
        if name.upper().startswith("GITHUB_"):
            return validation_failed(
                "Secret names must not start with the GITHUB_ prefix.",
                "name")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return validation_failed("Problems parsing JSON")
        if not isinstance(data, dict):
            return validation_failed("Invalid request: body is not an object")
        for field in ("encrypted_value", "key_id"):
            if not isinstance(data.get(field), str):
                return validation_failed(
                    f"Invalid request.\n\n\"{field}\" wasn't supplied.",
                    field)
        if data["key_id"] != env.key.key_id:
            return validation_failed(
                "key_id is not the environment's current public key", "key_id")
        box = strict_b64(data["encrypted_value"])
        if box is None:
            return validation_failed(
                "encrypted_value is not valid base64", "encrypted_value")
        value = state.sodium.seal_open(box, env.key.pk, env.key.sk)
        if value is None:
            return validation_failed(
                "encrypted_value cannot be decrypted with the public key",
                "encrypted_value")
        if len(value) > MAX_VALUE_BYTES:
            return validation_failed(
                "Secrets can be up to 48 KB in size", "encrypted_value")
        upper = name.upper()
        if upper not in env.secrets and len(env.secrets) >= state.max_secrets:
            return validation_failed(
                f"Environments can have up to {state.max_secrets} secrets")
        created = state.store(env, upper, value)
        return (201 if created else 204), None, {}

    # -- the control API --------------------------------------------------

    def control(self, url, body):
        state = self.server.state
        try:
            data = json.loads(body) if body else {}
        except (ValueError, UnicodeDecodeError):
            self.send(400, {"error": "body is not JSON"})
            return
        handlers = {
            ("POST", "/_mock/env"): self.c_env,
            ("GET", "/_mock/secrets"): self.c_secrets,
            ("POST", "/_mock/set"): self.c_set,
            ("POST", "/_mock/delete"): self.c_delete,
            ("POST", "/_mock/rotate-key"): self.c_rotate,
            ("POST", "/_mock/config"): self.c_config,
            ("POST", "/_mock/inject"): self.c_inject,
            ("GET", "/_mock/log"): self.c_log,
            ("GET", "/_mock/stats"): self.c_stats,
            ("POST", "/_mock/reset-log"): self.c_reset_log,
            ("POST", "/_mock/shutdown"): self.c_shutdown,
        }
        fn = handlers.get((self.command, url.path))
        if fn is None:
            self.send(404, {"error": f"no control {self.command} {url.path}"})
            return
        if url.query:
            data = dict(parse_qsl(url.query), **(
                data if isinstance(data, dict) else {}))
        try:
            with state.lock:
                result = fn(data)
        except ControlError as e:
            self.send(e.status, {"error": str(e)})
            return
        self.send(200, result)
        if url.path == "/_mock/shutdown":
            self.server.stop.set()

    def env_of(self, data, create=False):
        if not isinstance(data, dict):
            raise ControlError("body must be an object")
        repo, env = data.get("repo"), data.get("environment")
        if not isinstance(repo, str) or repo.count("/") != 1 or \
                not isinstance(env, str) or not env or "/" in env:
            raise ControlError("need repo 'owner/name' and environment")
        state = self.server.state
        if create:
            return state.create_env(repo, env)
        e = state.envs.get((repo, env))
        if e is None:
            raise ControlError(f"no environment '{env}' in '{repo}'", 404)
        return e

    def secret_name(self, data):
        name = data.get("name")
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise ControlError("need a valid secret name")
        return name.upper()

    def c_env(self, data):
        e = self.env_of(data, create=True)
        return {"key_id": e.key.key_id, "public_key": e.key.public()}

    def c_secrets(self, data):
        e = self.env_of(data)
        return {n: {"value_b64": base64.b64encode(s["value"]).decode(),
                    "created_at": s["created_at"],
                    "updated_at": s["updated_at"]}
                for n, s in sorted(e.secrets.items())}

    def c_set(self, data):
        e = self.env_of(data)
        name = self.secret_name(data)
        value = strict_b64(data.get("value_b64"))
        if value is None:
            raise ControlError("need value_b64 (standard padded base64)")
        created = self.server.state.store(e, name, value)
        return {"created": created, **describe(name, e.secrets[name])}

    def c_delete(self, data):
        e = self.env_of(data)
        name = self.secret_name(data)
        if e.secrets.pop(name, None) is None:
            raise ControlError(f"no secret '{name}'", 404)
        return {"deleted": name}

    def c_rotate(self, data):
        e = self.env_of(data)
        e.key = Keypair(self.server.state.sodium)
        return {"key_id": e.key.key_id, "public_key": e.key.public()}

    def c_config(self, data):
        state = self.server.state
        if not isinstance(data, dict):
            raise ControlError("body must be an object")
        for field in ("per_page_max", "max_secrets"):
            if field in data:
                v = data[field]
                if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                    raise ControlError(f"{field} must be a positive integer")
                setattr(state, field, v)
        return {"per_page_max": state.per_page_max,
                "max_secrets": state.max_secrets}

    def c_inject(self, data):
        # the new list replaces the old one: [] removes every rule
        specs = data if isinstance(data, list) else [data]
        self.server.state.rules = [Rule(s) for s in specs]
        return {"rules": len(self.server.state.rules)}

    def c_log(self, data):
        return list(self.server.state.log)

    def c_stats(self, data):
        state = self.server.state
        return {"max_in_flight": state.max_in_flight,
                "connections": len(state.conns),
                "writes": state.writes,
                "requests": state.requests}

    def c_reset_log(self, data):
        self.server.state.reset_log()
        return {}

    def c_shutdown(self, data):
        return {}


def describe(name, s):
    return {"name": name, "created_at": s["created_at"],
            "updated_at": s["updated_at"]}


def int_param(text, default):
    """A query parameter as an integer; GitHub ignores one that is not."""
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False

    def __init__(self, token, log_path):
        super().__init__(("127.0.0.1", 0), Handler)
        self.state = State(token)
        self.stop = threading.Event()
        self.log_lock = threading.Lock()
        self.log_file = open(log_path, "a", buffering=1) if log_path else None

    def write_log(self, r):
        """One line per API request: no token (only whether it was right),
        no value (only the path, which names the secret)."""
        if self.log_file is None:
            return
        stamp = time.strftime("%H:%M:%S", time.gmtime(r["start"]))
        line = (f"{stamp} conn={r['connection']} {r['method']} {r['path']} "
                f"-> {r['status'] if r['status'] is not None else 'closed'} "
                f"auth={r['auth']}{' injected' if r['injected'] else ''} "
                f"{(r['end'] - r['start']) * 1000:.1f}ms\n")
        with self.log_lock:
            self.log_file.write(line)


def write_atomic(path, text):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token", default="test-token")
    ap.add_argument("--log")
    args = ap.parse_args()

    server = Server(args.token, args.log)
    # serve in a thread: the main thread waits for a signal or for
    # /_mock/shutdown, then stops the loop (shutdown() must not be called
    # from the thread running serve_forever)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: server.stop.set())
    loop = threading.Thread(target=server.serve_forever,
                            kwargs={"poll_interval": 0.1}, daemon=True)
    loop.start()
    write_atomic(args.port_file, f"{server.server_address[1]}\n")
    while not server.stop.wait(0.5):
        pass
    server.shutdown()
    server.server_close()
    if server.log_file:
        server.log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
