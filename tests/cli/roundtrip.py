#!/usr/bin/env python3
"""Property test for t0008: random values (every byte but NUL, lengths up to
64 KiB) survive set -> export -> import -> get in every format that can
carry them. Prints TAP lines; the caller counts them."""
import json
import os
import random
import subprocess
import sys

envx = os.environ["ENVX"]
work = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 40
rng = random.Random(int(os.environ.get("ENVX_SEED", "20261121")))


def run(args, stdin=None, env=None):
    return subprocess.run([envx] + args, input=stdin, capture_output=True,
                          env=env)


def random_value(i, utf8):
    # mostly short, some long; every byte 1..255 possible
    n = rng.choice([0, 1, 5, 17, 100, 1000, rng.randint(0, 65536)])
    if utf8:
        alphabet = "ab $'\"`\\\n\r\t#=={}é日🔑\x01\x7f"
        return "".join(rng.choice(alphabet) for _ in range(n)).encode()
    return bytes(rng.randint(1, 255) for _ in range(n))


values = {}
for i in range(rounds):
    utf8 = i % 2 == 0
    name = f"P{i}_{'U' if utf8 else 'B'}"
    values[name] = random_value(i, utf8)
    values["P_EDGE_NL"] = b"\n"
    values["P_EDGE_QUOTES"] = b"'\"`\\n\\'"
    values["P_EDGE_SPACE"] = b"  x  "
for name, v in values.items():
    r = run(["set", "staging", name, "--raw", "--allow-empty"], stdin=v)
    if r.returncode != 0:
        print(f"not ok - set {name}: {r.stderr.decode(errors='replace')}")
        sys.exit(1)

failures = 0
n = 0


def report(ok, desc, detail=""):
    global n, failures
    n += 1
    if ok:
        print(f"ok - {desc}")
    else:
        failures += 1
        print(f"not ok - {desc}")
        if detail:
            print("# " + detail[:300].replace("\n", "\n# "))


# dotenv cannot carry every value in a form npm's dotenv also reads back
# (all three quote characters with a line break, '#' or edge spaces): envx
# must then refuse cleanly, naming a secret and printing nothing.
r = run(["export", "staging", "--format", "dotenv"])
err = r.stderr.decode(errors="replace")
report(r.returncode == 0 or (r.returncode == 7 and "cannot export" in err
                             and r.stdout == b""),
       "export --format dotenv succeeds or refuses cleanly (exit 7)", err)
# values dotenv can carry: no backtick (so backtick quoting fits) and no CR
# (npm's dotenv turns every CR into LF before parsing)
carry = {}
for i in range(rounds):
    v = random_value(i, i % 2 == 0).replace(b"`", b"").replace(b"\r", b"")
    while v.endswith(b"\\"):
        v = v[:-1]
    carry[f"D{i}"] = v
carry["D_EDGE_NL"] = b"a\nb"
carry["D_EDGE_LITERAL_BACKSLASH_N"] = b"a\\nb"
carry["D_EDGE_HASH"] = b"a #b"
carry["D_EDGE_SPACE"] = b" lead and trail "
for k, v in carry.items():
    run(["set", "qa", k, "--raw", "--allow-empty"], stdin=v)
r = run(["export", "qa", "--format", "dotenv"])
report(r.returncode == 0, "export --format dotenv of carryable values",
       r.stderr.decode(errors="replace"))
path = os.path.join(work, "out.env")
with open(path, "wb") as f:
    f.write(r.stdout)
r = run(["import", "production", path])
report(r.returncode == 0, "import of the exported dotenv", r.stderr.decode(errors="replace"))
bad = [k for k, v in carry.items() if run(["get", "production", k]).stdout != v]
report(not bad, "dotenv round trip is byte-exact for every value", ",".join(bad))

# shell: sh, dash and bash eval the export back byte-exact
r = run(["export", "staging", "--format", "shell"])
report(r.returncode == 0, "export --format shell")
sh_path = os.path.join(work, "out.sh")
with open(sh_path, "wb") as f:
    f.write(r.stdout)
for shell in ("sh", "dash", "bash"):
    bad = []
    for k, v in values.items():
        got = subprocess.run([shell, "-c", f'. "{sh_path}"; printf %s "${k}"'],
                             capture_output=True).stdout
        if got != v:
            bad.append(k)
    report(not bad, f"{shell} evals the shell export byte-exact", ",".join(bad))

# json: valid UTF-8 values come back exactly
r = run(["export", "staging", "--format", "json"])
utf8_names = [k for k in values if not k.endswith("_B")]
if r.returncode == 0:
    data = json.loads(r.stdout)
    bad = [k for k in utf8_names if data.get(k, "").encode() != values[k]]
    report(not bad, "json export carries every UTF-8 value exactly", ",".join(bad))
else:
    # binary values cannot be JSON strings; envx must say so, naming a
    # secret and never printing a value
    err = r.stderr.decode(errors="replace")
    report(r.returncode == 7 and "UTF-8" in err and r.stdout == b"",
           "json export refuses non-UTF-8 values cleanly (exit 7)", err)
    sub = os.path.join(work, "utf8.env")
    with open(sub, "wb") as f:
        for k in utf8_names:
            f.write(k.encode() + b"\n")

# github: heredoc blocks in $GITHUB_ENV parse back exactly
ghenv = os.path.join(work, "github_env")
open(ghenv, "wb").close()
env = dict(os.environ, GITHUB_ENV=ghenv)
r = run(["export", "staging", "--format", "github"], env=env)
report(r.returncode == 0, "export --format github", r.stderr.decode(errors="replace"))
blob = open(ghenv, "rb").read()
parsed = {}
lines = blob.split(b"\n")
i = 0
while i < len(lines) - 1:
    head = lines[i]
    name, delim = head.split(b"<<", 1)
    j = i + 1
    body = []
    while lines[j] != delim:
        body.append(lines[j])
        j += 1
    parsed[name.decode()] = b"\n".join(body)
    i = j + 1
bad = [k for k, v in values.items() if parsed.get(k) != v]
report(not bad, "github heredoc blocks carry every value exactly", ",".join(bad))
masks = set(r.stdout.split(b"\n"))
expected = set()
for v in values.values():
    for line in v.replace(b"\r", b"\n").split(b"\n"):
        if line.strip():
            expected.add(b"::add-mask::" + line.replace(b"%", b"%25"))
missing = expected - masks
report(not missing, "every line of every value is masked ('%' escaped)",
       f"{len(missing)} lines not masked")
report(all(m.startswith(b"::add-mask::") for m in masks if m),
       "github stdout has only mask lines")
print(f"# {len(values)} values, {failures} failures")
sys.exit(1 if failures else 0)
