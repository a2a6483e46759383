#!/usr/bin/env python3
# index-decoy.py VAULT ENV NAME: makes the `secrets_bucket` index of VAULT
# disagree with its table, as someone who edits the file's pages can, so that
# a range scan of NAME's bucket sees NAME's sealed row while a point lookup of
# NAME lands on a decoy: a copy of NAME's row one version back, with an
# orphan copy of that version (SPEC VF-3.4; SECURITY.md, indexes). Plain
# SQL adds the decoy under a name of the same length; then, on the index's
# leaf page, its entry is renamed to NAME and the cell pointers are ordered
# so that SQLite's binary search finds the decoy for (env, bucket, NAME) and
# the real entry for (env, bucket). Prints nothing; exits 1 if the vault's
# index is not one leaf page or no order works.
import itertools
import sqlite3
import struct
import sys

path, env, name = sys.argv[1], sys.argv[2], sys.argv[3].encode()
db = sqlite3.connect(path)
env_id, sid, bucket, cur = db.execute(
    "SELECT e.id, s.id, s.bucket, s.version FROM secrets s JOIN envs e ON "
    "e.id = s.env_id WHERE e.name = ? AND s.name = ?", (env, name.decode())).fetchone()
decoy = max(r[0] for r in db.execute("SELECT id FROM secrets")) + 100
filler = decoy + 1
twin = name[:-1] + bytes([name[-1] ^ 1])  # same length, another name
db.executescript(f"""
INSERT INTO versions SELECT {decoy}, version, nonce, ciphertext, created_at, author, kind
  FROM versions WHERE secret_id = {sid} AND version = {cur - 1};
INSERT INTO secrets SELECT {decoy}, env_id, '{twin.decode()}', {cur - 1}, description,
  rotate_every, rotated_at, state, bucket FROM secrets WHERE id = {sid};
INSERT INTO secrets SELECT {filler}, env_id, 'AAA', 1, '', 0, 0, 0, bucket FROM secrets WHERE id = {sid};
""")
page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'secrets_bucket'").fetchone()[0]
psize = db.execute("PRAGMA page_size").fetchone()[0]
db.close()

data = bytearray(open(path, "rb").read())
base = (page - 1) * psize
hdr = base + (100 if page == 1 else 0)
if data[hdr] != 0x0A:  # not a leaf index page
    sys.exit(1)


def varint(i):
    v = 0
    for k in range(9):
        c = data[i + k]
        if k == 8:
            return (v << 8) | c, i + 9
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i + k + 1


def record(off):
    """The fields of the index cell at off: (value, offset, width) each."""
    _, i = varint(base + off)
    hlen, j = varint(i)
    types = []
    while j < i + hlen:
        t, j = varint(j)
        types.append(t)
    pos, out = i + hlen, []
    for t in types:
        if t in (8, 9):
            out.append((t - 8, pos, 0))
            continue
        if 1 <= t <= 6:
            w = {1: 1, 2: 2, 3: 3, 4: 4, 5: 6, 6: 8}[t]
            out.append((int.from_bytes(data[pos:pos + w], "big", signed=True), pos, w))
        elif t >= 13 and t % 2:
            w = (t - 13) // 2
            out.append((bytes(data[pos:pos + w]), pos, w))
        else:
            sys.exit(1)
        pos += w
    return out


ncells = struct.unpack(">H", data[hdr + 3:hdr + 5])[0]
ptrs = [struct.unpack(">H", data[hdr + 8 + 2 * i:hdr + 10 + 2 * i])[0] for i in range(ncells)]
kind = {}
for p in ptrs:
    f = record(p)
    key, rowid = (f[0][0], f[1][0]), f[3][0]
    if key == (env_id, bucket) and rowid == decoy:
        data[f[2][1]:f[2][1] + f[2][2]] = name  # the decoy's entry says NAME
        kind[p] = "decoy"
    elif key == (env_id, bucket) and rowid == filler:
        kind[p] = "filler"
    elif key == (env_id, bucket):
        kind[p] = "real"
    else:
        kind[p] = "low" if key < (env_id, bucket) else "high"
# the order SQLite's search sees: (bucket-level rank, name rank)
rank = {"low": (0,), "filler": (1, 0), "real": (1, 1), "decoy": (1, 1), "high": (2,)}


def lower_bound(cells, key):
    def cmp(cell):  # a prefix key compares below a longer cell
        for a, b in zip(cell, key):
            if a != b:
                return -1 if a < b else 1
        return 1
    lo, hi = 0, len(cells) - 1
    i = hi >> 1
    while True:
        if cmp(cells[i]) < 0:
            lo = i + 1
        else:
            hi = i - 1
        if lo > hi:
            return lo
        i = (lo + hi) >> 1


def works(order):
    cells = [rank[k] for k in order]
    i, seen = lower_bound(cells, (1,)), []
    while i < len(cells) and cells[i][:1] == (1,):
        seen.append(order[i])
        i += 1
    j = lower_bound(cells, (1, 1))
    return seen == ["real"] and j < len(order) and order[j] == "decoy"


kinds = [kind[p] for p in ptrs]
for order in sorted(set(itertools.permutations(kinds))):
    if works(list(order)):
        pool = {k: [p for p in ptrs if kind[p] == k] for k in set(kinds)}
        for i, k in enumerate(order):
            data[hdr + 8 + 2 * i:hdr + 10 + 2 * i] = struct.pack(">H", pool[k].pop())
        open(path, "wb").write(data)
        sys.exit(0)
sys.exit(1)
