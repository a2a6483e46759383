#!/usr/bin/env python3
"""Self-test of github_mock.py (meson test mock-selftest): starts the mock,
talks to it over one HTTP/1.1 connection as a serial client would, seals
values with libsodium like envx does, and checks every behaviour the sync
tests rely on. Prints TAP; exits non-zero when any check fails."""
import base64
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from github_mock import Sodium  # noqa: E402 (the same ctypes wrapper)

MOCK = os.path.join(HERE, "github_mock.py")
TOKEN = "selftest-token-d41d8cd98f00b204"
REPO = "octo/app"
STAMP_RE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
sodium = Sodium()

n = 0
failures = 0


def report(ok, desc, detail=""):
    global n, failures
    n += 1
    print(f"{'ok' if ok else 'not ok'} {n} - {desc}")
    if not ok:
        failures += 1
        if detail:
            print("# " + str(detail)[:600].replace("\n", "\n# "))
    sys.stdout.flush()
    return ok


def start_mock(tmp, name, log=True):
    port_file = os.path.join(tmp, name + ".port")
    args = [sys.executable, MOCK, "--port-file", port_file, "--token", TOKEN]
    if log:
        args += ["--log", os.path.join(tmp, name + ".log")]
    proc = subprocess.Popen(args)
    deadline = time.time() + 20
    while not os.path.exists(port_file):
        if proc.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"mock did not start (exit {proc.poll()})")
        time.sleep(0.02)
    with open(port_file) as f:
        text = f.read()
    return proc, port_file, text


class Client:
    """One keep-alive HTTP/1.1 connection to the mock."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)

    def raw(self, method, path, body=None, headers=None):
        """(status, lower-cased headers, body bytes)."""
        self.conn.request(method, path, body=body, headers=headers or {})
        r = self.conn.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def api(self, method, path, obj=None, auth="Bearer " + TOKEN,
            body=None):
        headers = {"Accept": "application/vnd.github+json",
                   "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": "envx-selftest/1"}
        if auth is not None:
            headers["Authorization"] = auth
        if obj is not None:
            body = json.dumps(obj).encode()
            headers["Content-Type"] = "application/json"
        return self.raw(method, path, body, headers)

    def ctl(self, method, path, obj=None):
        body = None if obj is None else json.dumps(obj).encode()
        status, _, data = self.raw(method, "/_mock/" + path, body)
        if status != 200:
            raise RuntimeError(f"control {path}: {status} {data!r}")
        return json.loads(data)


def env_path(env, rest=""):
    return f"/repos/{REPO}/environments/{env}/secrets{rest}"


def sealed_put(c, env, name, value, key=None):
    """PUT of value sealed to the environment's current key (or key)."""
    if key is None:
        _, _, data = c.api("GET", env_path(env, "/public-key"))
        key = json.loads(data)
    box = sodium.seal(value, base64.b64decode(key["key"]))
    return c.api("PUT", env_path(env, "/" + name),
                 {"encrypted_value": base64.b64encode(box).decode(),
                  "key_id": key["key_id"]})


def stored(c, env):
    return c.ctl("GET", f"secrets?repo={REPO}&environment={env}")


def main(tmp):
    proc, port_file, text = start_mock(tmp, "mock")
    try:
        run_checks(proc, port_file, text, tmp)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def run_checks(proc, port_file, text, tmp):
    report(re.fullmatch(r"[1-9]\d*\n", text) is not None,
           "port file holds the port in decimal and a newline", repr(text))
    report(not [f for f in os.listdir(tmp) if ".tmp." in f],
           "port file written atomically (no temporary left)")
    port = int(text)
    c = Client(port)

    # -- environments and keys --------------------------------------------
    staging = c.ctl("POST", "env", {"repo": REPO, "environment": "staging"})
    again = c.ctl("POST", "env", {"repo": REPO, "environment": "staging"})
    report(staging == again and len(base64.b64decode(
        staging["public_key"])) == 32,
        "POST /_mock/env is idempotent and gives a 32-byte key")
    prod = c.ctl("POST", "env", {"repo": REPO, "environment": "production"})
    other = c.ctl("POST", "env", {"repo": "octo/other",
                                  "environment": "staging"})
    s, h, d = c.api("GET", env_path("staging", "/public-key"))
    key = json.loads(d)
    report(s == 200 and key == {"key_id": staging["key_id"],
                                "key": staging["public_key"]},
           "GET public-key returns the environment's key_id and key", d)
    report(h.get("content-type") == "application/json; charset=utf-8"
           and h.get("x-github-api-version-selected") == "2022-11-28"
           and h.get("x-ratelimit-resource") == "core"
           and int(h.get("x-ratelimit-remaining", -1)) >= 0
           and "x-ratelimit-reset" in h and "x-ratelimit-used" in h,
           "API responses carry GitHub's content type, version and "
           "rate headers", h)
    s, _, d = c.api("GET", f"/repos/{REPO}/actions/secrets/public-key")
    repo_key = json.loads(d)
    keys = {staging["public_key"], prod["public_key"], other["public_key"],
            repo_key["key"]}
    ids = {staging["key_id"], prod["key_id"], other["key_id"],
           repo_key["key_id"]}
    report(s == 200 and len(keys) == 4 and len(ids) == 4,
           "each environment and the repository have their own key and id")

    # -- authentication ---------------------------------------------------
    for auth, desc in ((None, "no Authorization"),
                       ("Bearer wrong", "a wrong token"),
                       ("token " + TOKEN, "a non-Bearer scheme"),
                       ("Bearer", "an empty Bearer")):
        s, _, d = c.api("GET", env_path("staging", "/public-key"), auth=auth)
        report(s == 401 and json.loads(d)["message"] == "Bad credentials",
               f"401 Bad credentials for {desc}", f"{s} {d!r}")
    log = c.ctl("GET", "log")
    report([r["auth"] for r in log[-4:]] == ["missing", "bad", "bad", "bad"]
           and log[0]["auth"] == "ok",
           "the log records whether Authorization was right",
           [r["auth"] for r in log])
    report(TOKEN not in json.dumps(log), "the log never holds the token")

    # -- 404s -------------------------------------------------------------
    for path in (env_path("nope", "/public-key"), env_path("nope"),
                 env_path("nope", "/A"), "/repos/octo/none/actions/secrets/"
                 "public-key", "/user", "/repos/octo/app/environments"):
        s, _, d = c.api("GET", path)
        report(s == 404 and json.loads(d)["message"] == "Not Found",
               f"404 Not Found for GET {path}", f"{s} {d!r}")
    s, _, _ = c.api("PATCH", env_path("staging", "/A"), {})
    report(s == 404, "404 for a method GitHub does not have there", s)
    s, h, d = c.raw("GET", env_path("staging", "/public-key"), None, {
        "Authorization": "Bearer " + TOKEN,
        "X-GitHub-Api-Version": "2099-01-01"})
    report(s == 400 and "x-ratelimit-limit" in h,
           "400 for an X-GitHub-Api-Version the mock does not have", s)
    s, _, _ = c.raw("GET", env_path("staging", "/public-key"), None, {
        "Authorization": "Bearer " + TOKEN})
    report(s == 200, "X-GitHub-Api-Version may be left out", s)
    s, _, _ = sealed_put(c, "nope", "A", b"x", key)
    report(s == 404, "404 for PUT into a missing environment", s)
    s, _, _ = c.api("DELETE", env_path("nope", "/A"))
    report(s == 404, "404 for DELETE in a missing environment", s)

    # -- create, update, byte-exact values --------------------------------
    values = {
        "EMPTY": b"",
        "ONE": b"x",
        "MULTI": b"line one\nline two\r\n\tthree\n",
        "UNICODE": "ключ 🔑 日本 é".encode(),
        "BINARY": bytes(range(256)),
        "BIG": bytes((i * 7 + 3) % 256 for i in range(40 * 1024)),
    }
    for name, v in values.items():
        s, h, d = sealed_put(c, "staging", name, v, key)
        report(s == 201 and d == b"" and h.get("content-length") == "0",
               f"PUT {name} ({len(v)} bytes) creates: 201, empty body",
               f"{s} {d!r}")
    got = stored(c, "staging")
    bad = [k for k, v in values.items()
           if base64.b64decode(got.get(k, {}).get("value_b64", "!")) != v]
    report(not bad, "the mock keeps every decrypted value byte-exact", bad)
    before = got["ONE"]
    s, _, d = sealed_put(c, "staging", "one", b"changed", key)
    after = stored(c, "staging")["ONE"]
    report(s == 204 and d == b"", "PUT of an existing name updates: 204", s)
    report(base64.b64decode(after["value_b64"]) == b"changed"
           and "one" not in stored(c, "staging"),
           "names are case-insensitive and stored upper-cased")
    report(after["created_at"] == before["created_at"]
           and after["updated_at"] > before["updated_at"]
           and STAMP_RE.fullmatch(after["updated_at"]),
           "an update keeps created_at and advances updated_at",
           (before, after))
    stamps = [stored(c, "staging")["ONE"]["updated_at"]]
    for i in range(3):
        sealed_put(c, "staging", "ONE", b"again", key)
        stamps.append(stored(c, "staging")["ONE"]["updated_at"])
    report(all(a < b for a, b in zip(stamps, stamps[1:])),
           "updated_at strictly increases with every write, even within "
           "one second", stamps)
    s, _, d = c.api("GET", env_path("staging", "/multi"))
    meta = json.loads(d)
    report(s == 200 and set(meta) == {"name", "created_at", "updated_at"}
           and meta["name"] == "MULTI", "GET a secret gives its metadata", d)
    s, _, _ = c.api("GET", env_path("staging", "/ABSENT"))
    report(s == 404, "GET of a missing secret: 404", s)
    s, _, _ = c.api("GET", env_path("production", "/MULTI"))
    report(s == 404, "environments do not share secrets", s)

    # -- 422: what GitHub refuses -----------------------------------------
    # a box whose base64 has a '+' or '/', so that its url-safe spelling
    # differs (a random box lacks both about once in 200 draws)
    while True:
        box = base64.b64encode(sodium.seal(
            b"v", base64.b64decode(key["key"]))).decode()
        if "+" in box or "/" in box:
            break
    prod_box = base64.b64encode(sodium.seal(
        b"v", base64.b64decode(prod["public_key"]))).decode()
    cases = [
        ("bad JSON", "GOOD", b"{not json"),
        ("a JSON array", "GOOD", b"[]"),
        ("no encrypted_value", "GOOD", {"key_id": key["key_id"]}),
        ("no key_id", "GOOD", {"encrypted_value": box}),
        ("a key_id of another environment", "GOOD",
         {"encrypted_value": prod_box, "key_id": prod["key_id"]}),
        ("the repository's key_id", "GOOD",
         {"encrypted_value": box, "key_id": repo_key["key_id"]}),
        ("a box sealed to another environment's key", "GOOD",
         {"encrypted_value": prod_box, "key_id": key["key_id"]}),
        ("unpadded base64", "GOOD",
         {"encrypted_value": box.rstrip("="), "key_id": key["key_id"]}),
        ("url-safe base64", "GOOD",
         {"encrypted_value": box.replace("+", "-").replace("/", "_"),
          "key_id": key["key_id"]}),
        ("garbage in base64", "GOOD",
         {"encrypted_value": "!!!!", "key_id": key["key_id"]}),
        ("an empty encrypted_value", "GOOD",
         {"encrypted_value": "", "key_id": key["key_id"]}),
        ("a non-box", "GOOD",
         {"encrypted_value": base64.b64encode(b"x" * 60).decode(),
          "key_id": key["key_id"]}),
        ("a name starting with a digit", "1ABC", None),
        ("a name with a dash", "A-B", None),
        ("a GITHUB_ name", "GITHUB_TOKEN", None),
        ("a github_ name (any case)", "github_x", None),
    ]
    for desc, name, obj in cases:
        if obj is None:
            obj = {"encrypted_value": box, "key_id": key["key_id"]}
        if isinstance(obj, bytes):
            s, _, d = c.api("PUT", env_path("staging", "/" + name), body=obj)
        else:
            s, _, d = c.api("PUT", env_path("staging", "/" + name), obj)
        msg = json.loads(d).get("message", "") if d else ""
        report(s == 422 and msg, f"422 with a message for {desc}",
               f"{s} {d!r}")
    s, _, d = sealed_put(c, "staging", "BIGGER", b"x" * (48 * 1024 + 1), key)
    report(s == 422, "422 for a value over 48 KB", s)
    s, _, _ = sealed_put(c, "staging", "EXACTLY48K", b"x" * (48 * 1024), key)
    report(s == 201, "a value of exactly 48 KB is accepted", s)
    c.ctl("POST", "delete", {"repo": REPO, "environment": "staging",
                             "name": "EXACTLY48K"})
    report(set(stored(c, "staging")) == set(values),
           "refused PUTs leave the environment unchanged")

    # the secret limit applies to new names only
    c.ctl("POST", "env", {"repo": REPO, "environment": "small"})
    c.ctl("POST", "config", {"max_secrets": 2})
    codes = [sealed_put(c, "small", nm, b"v")[0] for nm in ("A", "B", "C")]
    codes.append(sealed_put(c, "small", "A", b"w")[0])
    report(codes == [201, 201, 422, 204],
           "the environment's secret limit refuses a new name, not an "
           "update", codes)
    c.ctl("POST", "config", {"max_secrets": 100})
    s, _, d = sealed_put(c, "small", "C", b"v")
    report(s == 201, "config raises the limit again", s)

    # -- rotate-key -------------------------------------------------------
    _, _, d = c.api("GET", env_path("small", "/public-key"))
    old_key = json.loads(d)
    new = c.ctl("POST", "rotate-key", {"repo": REPO,
                                       "environment": "small"})
    _, _, d = c.api("GET", env_path("small", "/public-key"))
    report(json.loads(d) == {"key_id": new["key_id"],
                             "key": new["public_key"]}
           and new["key_id"] != old_key["key_id"],
           "rotate-key: public-key serves a new key and key_id")
    s, _, _ = sealed_put(c, "small", "A", b"v", old_key)
    report(s == 422, "rotate-key: a PUT sealed to the old key gets 422", s)
    s, _, _ = sealed_put(c, "small", "A", b"v")
    report(s == 204, "rotate-key: a PUT sealed to the new key works", s)

    # -- DELETE -----------------------------------------------------------
    s, _, d = c.api("DELETE", env_path("small", "/b"))
    report(s == 204 and d == b"", "DELETE of a secret: 204 (any case)", s)
    s, _, _ = c.api("DELETE", env_path("small", "/B"))
    report(s == 404, "DELETE again: 404", s)
    report(set(stored(c, "small")) == {"A", "C"}, "the secret is gone")

    # -- out-of-band changes ----------------------------------------------
    before = stored(c, "small")["A"]
    r = c.ctl("POST", "set", {"repo": REPO, "environment": "small",
                              "name": "A", "value_b64": "b29i"})
    after = stored(c, "small")["A"]
    report(not r["created"] and after["updated_at"] > before["updated_at"]
           and base64.b64decode(after["value_b64"]) == b"oob",
           "out-of-band set changes the value and bumps updated_at")
    c.ctl("POST", "set", {"repo": REPO, "environment": "small",
                          "name": "web_ui", "value_b64": ""})
    s, _, d = c.api("GET", env_path("small", "/WEB_UI"))
    report(s == 200, "out-of-band set creates a secret the API lists", s)
    c.ctl("POST", "delete", {"repo": REPO, "environment": "small",
                             "name": "WEB_UI"})
    s, _, _ = c.api("GET", env_path("small", "/WEB_UI"))
    report(s == 404, "out-of-band delete removes it", s)

    check_pagination(c)
    check_injection(c, port)
    check_stats(port)
    check_shutdown(proc, tmp)


def follow(c, path):
    """Every page of a listing by following rel="next"; (names, pages,
    links of each page, total_counts)."""
    names, pages, links, totals = [], 0, [], set()
    while path:
        s, h, d = c.api("GET", path)
        if s != 200:
            raise RuntimeError(f"GET {path}: {s}")
        body = json.loads(d)
        totals.add(body["total_count"])
        names += [x["name"] for x in body["secrets"]]
        pages += 1
        link = h.get("link", "")
        links.append(link)
        m = re.search(r'<([^>]+)>; rel="next"', link)
        if m:
            u = urlsplit(m[1])
            if u.scheme != "http" or u.netloc != f"127.0.0.1:{c.port}":
                raise RuntimeError(f"Link not absolute to the host: {m[1]}")
            path = u.path + "?" + u.query
        else:
            path = None
        if pages > 100:
            raise RuntimeError("too many pages")
    return names, pages, links, totals


def check_pagination(c):
    c.ctl("POST", "env", {"repo": REPO, "environment": "bulk"})
    c.ctl("POST", "config", {"max_secrets": 300})
    # 247 out of band (fast) and 3 through the API, in no order
    expect = [f"S{i:03d}" for i in range(250)]
    for nm in reversed(expect[3:]):
        c.ctl("POST", "set", {"repo": REPO, "environment": "bulk",
                              "name": nm, "value_b64": "eA=="})
    for nm in expect[:3]:
        sealed_put(c, "bulk", nm, b"x")
    c.ctl("POST", "config", {"max_secrets": 100})
    try:
        names, pages, links, totals = follow(
            c, env_path("bulk", "?per_page=100"))
        report(names == expect and pages == 3 and totals == {250},
               "250 secrets in 3 sorted pages of 100 via Link rel=next",
               (pages, totals))
        report('page=3>; rel="last"' in links[0] and 'rel="prev"'
               not in links[0], "page 1 links next and last", links[0])
        report(all(r in links[1] for r in ('rel="prev"', 'rel="next"',
                                           'rel="last"', 'rel="first"')),
               "a middle page links prev, next, last and first", links[1])
        report('rel="next"' not in links[2] and 'rel="first"' in links[2],
               "the last page has no next", links[2])
        names, pages, _, _ = follow(c, env_path("bulk"))
        report(names == expect and pages == 9,
               "per_page defaults to 30 (9 pages)", pages)
        s, _, d = c.api("GET", env_path("bulk", "?per_page=500"))
        report(len(json.loads(d)["secrets"]) == 100,
               "per_page over the maximum is cut to 100")
        for bad in ("0", "-3", "many"):
            s, _, d = c.api("GET", env_path("bulk", "?per_page=" + bad))
            report(len(json.loads(d)["secrets"]) == 30,
                   f"per_page={bad} is ignored (30)")
        s, h, _ = c.raw("GET", env_path("bulk", "?per_page=100&page=2"),
                        None, {"Authorization": "Bearer " + TOKEN,
                               "Host": "api.example:8443"})
        report(h.get("link", "").startswith(
            "<http://api.example:8443" + env_path("bulk", "?")),
            "Link URLs are built from the Host header", h.get("link"))
        s, h, d = c.api("GET", env_path("bulk", "?per_page=100&page=9"))
        report(s == 200 and json.loads(d) == {"total_count": 250,
                                              "secrets": []},
               "a page past the end is empty, with the total", d)
        c.ctl("POST", "config", {"per_page_max": 7})
        names, pages, links, _ = follow(c, env_path("bulk", "?per_page=100"))
        report(names == expect and pages == 36,
               "per_page_max 7: 36 pages of at most 7", pages)
        report("per_page=100" in links[0],
               "Link URLs keep the client's own query parameters", links[0])
    except RuntimeError as e:
        report(False, "pagination", e)
    finally:
        c.ctl("POST", "config", {"per_page_max": 100})
    s, h, d = c.api("GET", env_path("small"))
    body = json.loads(d)
    report(s == 200 and "link" not in h and body["total_count"] == 2
           and [x["name"] for x in body["secrets"]] == ["A", "C"],
           "a listing that fits one page has no Link header", (h, d))


def check_injection(c, port):
    path = env_path("small", "/A")
    c.ctl("POST", "inject", [{"method": "PUT", "path_regex": "/A$",
                              "status": 500, "count": 2}])
    writes = c.ctl("GET", "stats")["writes"]
    codes = [sealed_put(c, "small", "A", b"i")[0] for _ in range(3)]
    report(codes == [500, 500, 204], "count 2: two 500s, then normal", codes)
    report(c.ctl("GET", "stats")["writes"] == writes + 1,
           "injected answers do not count as writes")
    s, _, _ = c.api("GET", path)
    report(s == 200, "a rule for PUT leaves GET alone", s)

    c.ctl("POST", "inject", [{"method": "*", "path_regex": "/A$",
                              "status": 502, "after": 1,
                              "body": "bad gateway"}])
    res = [c.api("GET", path) for _ in range(3)]
    report([r[0] for r in res] == [200, 502, 200],
           "after 1: the first passes, the second fails",
           [r[0] for r in res])
    report(res[1][2] == b"bad gateway" and res[1][1]["content-type"]
           .startswith("text/plain"), "a text body is sent as text")

    c.ctl("POST", "inject", {"path_regex": "secrets/A", "status": 503,
                             "count": -1})
    codes = [c.api("GET", path)[0] for _ in range(4)]
    c.ctl("POST", "inject", [])
    report(codes == [503] * 4 and c.api("GET", path)[0] == 200,
           "count -1 applies until the rules are replaced", codes)

    c.ctl("POST", "inject", [{"path_regex": "/A$", "delay_ms": 400}])
    t = time.time()
    s, _, _ = c.api("GET", path)
    dt = time.time() - t
    report(s == 200 and dt >= 0.4, "delay_ms without status: a late normal "
           "answer", f"{s} {dt:.3f}s")
    c.ctl("POST", "inject", [{"path_regex": "/A$", "delay_ms": 200,
                              "status": 500}])
    t = time.time()
    s, _, _ = c.api("GET", path)
    report(s == 500 and time.time() - t >= 0.2, "delay_ms with a status", s)

    c.ctl("POST", "inject", [{"method": "PUT", "path_regex": "/A$",
                              "close": True}])
    before = stored(c, "small")["A"]
    try:
        sealed_put(c, "small", "A", b"lost")
        report(False, "close drops the connection without a response")
    except (http.client.RemoteDisconnected, ConnectionError) as e:
        report(True, f"close drops the connection without a response "
               f"({type(e).__name__})")
    c.conn.close()
    report(stored(c, "small")["A"] == before,
           "a dropped PUT changes nothing")
    rec = c.ctl("GET", "log")[-1]
    report(rec["method"] == "PUT" and rec["status"] is None
           and rec["injected"], "the log records the dropped request", rec)

    c.ctl("POST", "inject", [{"path_regex": "public-key",
                              "preset": "rate-limit", "reset_in": 30}])
    now = int(time.time())
    s, h, d = c.api("GET", env_path("small", "/public-key"))
    reset = int(h.get("x-ratelimit-reset", 0))
    report(s == 403 and h.get("x-ratelimit-remaining") == "0"
           and h.get("x-ratelimit-resource") == "core"
           and h.get("x-ratelimit-limit") == h.get("x-ratelimit-used")
           and now + 29 <= reset <= now + 32
           and json.loads(d)["message"].startswith(
               "API rate limit exceeded for "),
           "preset rate-limit: 403, remaining 0, reset now+reset_in",
           (s, h, d))
    c.ctl("POST", "inject", [{"path_regex": "public-key",
                              "preset": "too-many-requests",
                              "retry_after": 3}])
    s, h, _ = c.api("GET", env_path("small", "/public-key"))
    report(s == 429 and h.get("retry-after") == "3",
           "preset too-many-requests: 429 with retry-after", (s, h))
    c.ctl("POST", "inject", [{"path_regex": "public-key",
                              "preset": "secondary-rate-limit"}])
    s, h, d = c.api("GET", env_path("small", "/public-key"))
    report(s == 403 and "retry-after" not in h
           and h.get("x-ratelimit-remaining") != "0"
           and json.loads(d)["message"].startswith(
               "You have exceeded a secondary rate limit"),
           "preset secondary-rate-limit: 403, no retry headers", (s, h, d))
    c.ctl("POST", "inject", [{"method": "GET", "status": 401,
                              "headers": {"X-Custom": "1"},
                              "body": {"message": "custom"}}])
    s, h, d = c.api("GET", env_path("small"))
    report(s == 401 and h.get("x-custom") == "1"
           and json.loads(d) == {"message": "custom"},
           "explicit status, headers and JSON body", (s, h, d))
    c.ctl("POST", "inject", [])
    for bad in ({"status": "x"}, {"count": -2}, {"preset": "nope"},
                {"path_regex": "("}, {"bogus": 1}):
        s, _, _ = c.raw("POST", "/_mock/inject", json.dumps([bad]).encode())
        report(s == 400, f"inject refuses {bad}", s)


def check_stats(port):
    c = Client(port)
    c.ctl("POST", "reset-log")
    for i in range(5):
        c.api("GET", env_path("small", "/public-key"))
    sealed_put(c, "small", "S1", b"x")
    c.api("DELETE", env_path("small", "/S1"))
    st = c.ctl("GET", "stats")
    report(st == {"max_in_flight": 1, "connections": 1, "writes": 2,
                  "requests": 8},
           "a serial client on one connection: in flight 1, 1 connection, "
           "2 writes, 8 requests", st)
    log = c.ctl("GET", "log")
    r = log[0]
    report(len(log) == 8 and r["method"] == "GET"
           and r["path"] == env_path("small", "/public-key")
           and r["accept"] == "application/vnd.github+json"
           and r["api_version"] == "2022-11-28"
           and r["user_agent"] == "envx-selftest/1"
           and r["auth"] == "ok" and r["start"] <= r["end"]
           and len({x["connection"] for x in log}) == 1,
           "log records method, path, headers, auth, connection, times", r)

    # two clients at once, each on its own connection, both delayed
    c.ctl("POST", "reset-log")
    c.ctl("POST", "inject", [{"path_regex": "public-key", "delay_ms": 500,
                              "count": -1}])
    results = []

    def one():
        results.append(Client(port).api(
            "GET", env_path("small", "/public-key"))[0])

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    c.ctl("POST", "inject", [])
    st = c.ctl("GET", "stats")
    report(results == [200, 200] and st["max_in_flight"] == 2
           and st["connections"] == 2,
           "two concurrent clients: max_in_flight 2, 2 connections", st)
    c.ctl("POST", "reset-log")
    report(c.ctl("GET", "stats") == {"max_in_flight": 0, "connections": 0,
                                     "writes": 0, "requests": 0}
           and c.ctl("GET", "log") == [], "reset-log clears log and stats")
    s, _, _ = c.api("GET", env_path("small", "/public-key"),
                    auth="Bearer " + TOKEN)
    c.conn.close()


def check_shutdown(proc, tmp):
    with open(os.path.join(tmp, "mock.log")) as f:
        lines = f.read().splitlines()
    report(lines and TOKEN not in "\n".join(lines)
           and "b29i" not in "\n".join(lines)
           and all(" conn=" in ln and " auth=" in ln for ln in lines),
           "--log has one line per request, without token or value",
           lines[:3])
    port = int(open(os.path.join(tmp, "mock.port")).read())
    c = Client(port)
    c.ctl("POST", "shutdown")
    try:
        rc = proc.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    report(rc == 0, "POST /_mock/shutdown: the mock exits 0", rc)

    # SIGTERM ends a second instance cleanly, even with a connection open
    proc2, _, text = start_mock(tmp, "second", log=False)
    try:
        c2 = Client(int(text))
        c2.api("GET", "/user")
        proc2.send_signal(signal.SIGTERM)
        rc = proc2.wait(10)
    except subprocess.TimeoutExpired:
        rc = None
    finally:
        if proc2.poll() is None:
            proc2.kill()
            proc2.wait()
    report(rc == 0, "SIGTERM: the mock exits 0", rc)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory(prefix="envx-mock-") as tmp:
        try:
            main(tmp)
        except Exception as e:  # a crash of the test itself is a failure
            report(False, "selftest ran to the end", repr(e))
    print(f"1..{n}")
    print(f"# {n} checks, {failures} failed")
    sys.exit(1 if failures else 0)
