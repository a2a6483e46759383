#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/fuzz-dotenv.c and fuzz-template.c.

usage: tests/fuzz/make-text-seeds.py [SOURCE_ROOT]

The dotenv seeds are the parser's table-driven cases (tests/data/dotenv/*.env,
whose expectations come from npm dotenv) plus the edge cases below; the
template seeds are tests/data/template/*.env plus one seed per annotation
kind and per malformed annotation. Output is deterministic: running it again
rewrites the same bytes. The hand-written seeds already in the corpus
directories (basic.env, types.env, ...) are not this script's and are left
alone. See corpus/*/README.md.
"""
import os
import shutil
import sys

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
corpus = os.path.join(root, "tests", "fuzz", "corpus")

DOTENV = {
    "quoting-styles.env": b"SINGLE='a b'\nDOUBLE=\"a b\"\nBACK=`a b`\n"
    b"MIXED=\"it's\"\nNESTED='say \"hi\"'\nBARE=a b c\nEMPTYQ=\"\"\n",
    "escapes.env": b"N=\"line\\nnext\"\nR=\"cr\\rhere\"\nT=\"tab\\tnot\"\n"
    b"BS=\"back\\\\slash\"\nQ=\"q\\\"uote\"\nSQ='no\\nexpand'\n"
    b"TRAIL=\"ends\\\\\"\nLONE=\"\\\"\n",
    "multi-line.env": b"PEM=\"-----BEGIN KEY-----\nMIIB\nabc\n-----END KEY-----\"\n"
    b"B=`one\ntwo`\nS='x\ny'\nAFTER=1\n",
    "unclosed-multi-line.env": b"A=\"never closed\nB=2\nC=3\n# tail\n",
    "export-prefix.env": b"export A=1\nexport  B=2\n  export\tC=3\nexportD=4\n"
    b"export=5\nexport export=6\nexport\nE=7\n",
    "comments.env": b"# leading comment\n# @type url\nA=1 # inline\n"
    b"B=2#glued\nC='q' # after quote\n#D=commented\n# E = prose\n"
    b"  # indented\nF=\"#not a comment\"\n",
    "crlf-mixed.env": b"A=1\r\nB=\"two\r\nlines\"\r\nC=3\rD=4\r\r\nE=\r\n",
    "bom-in-value.env": b"\xef\xbb\xbfA=1\nB=\xef\xbb\xbf2\n",
    "invalid-utf8-kinds.env": b"A=\xff\xfe\nB=\"\xc3\x28\"\n\xc0\xafC=1\n"
    b"D=\xed\xa0\x80\nE=\xf4\x90\x80\x80\nF=\xe2\x80\n",
    "js-whitespace.env": "A\u00a0=\u20281\nB=\u2029two\n\u3000C=3\n"
    "D=\ufeff4\ufeff\n\u1680E = 5\u202f\n".encode(),
    "duplicate-names.env": b"A=1\nA=2\nexport A=3\n# A=4\nB=1\nb=2\nA=\n",
    "colon-separator.env": b"A: 1\nB:2\nC:  3\nD :4\nE=:5\n",
    "bad-names.env": b"1A=1\nA-B=2\nA.B=3\n=4\n _=5\n\xc3\xa9=6\nA B=7\n"
    + b"N" * 300 + b"=toolong\n",
    "nul-byte.env": b"A=x\x00y\nB=\"\x00\"\nC=1\n\x00=2\n",
    "no-final-newline.env": b"A=1\nB=\"2\"",
    "only-equals.env": b"=\n==\n= =\nA==\nB=a=b=c\n",
    "huge-line.env": b"BIG=" + b"x" * 8000 + b"\nQ=\"" + b"y" * 3000 + b"\"\n",
    "many-pairs.env": b"".join(b"K%d=v%d\n" % (i, i) for i in range(400)),
    "many-quotes.env": b"A=" + b"'\"`" * 300 + b"\nB='" + b"\\'" * 200 + b"'\n",
    "blank-and-ws.env": b"\n\n   \n\t\nA =  spaced  \n  B  =  \"  kept  \"  \n\n",
}

TEMPLATE = {
    "every-annotation.env": b"# The primary database.\n# @type url\n"
    b"# @rotate 90d\nDATABASE_URL=postgres://u:p@h:5432/db\n\n"
    b"# @optional\n# @type enum(debug,info,warn,error)\nLOG_LEVEL=info\n\n"
    b"# @shared\n# @type hostname\nSMTP_HOST=smtp.example.com\n\n"
    b"# @type port\nPORT=3000\n\n# @type int\nWORKERS=-4\n\n"
    b"# @type bool\nDEBUG=off\n\n# @type email\nADMIN=ops@example.com\n\n"
    b"# @type string\nNAME=app\n\n# @type regex([a-z]{3}-[0-9]+)\nCODE=abc-1\n\n"
    b"# @rotate 12h\n# @optional\n# @shared\n# @type string\nX=\n",
    "type-limits.env": b"# @type url\nU=http://[::1]:8080/x?y#z\n"
    b"# @type url\nU2=ftp://user@host\n# @type port\nP=65536\n"
    b"# @type port\nP0=0\n# @type int\nI=9223372036854775808\n"
    b"# @type int\nI2=+12\n# @type bool\nB=YES\n# @type email\nE=a@b\n"
    b"# @type hostname\nH=-bad-.example\n# @type hostname\nH2=" + b"a" * 70
    + b".com\n# @type enum(a,b,a)\nEN=c\n# @type regex(^x*$)\nR=xxxx\n",
    "rotate-durations.env": b"# @rotate 1h\nA=\n# @rotate 100000w\nB=\n"
    b"# @rotate 7d\nC=\n",
    "rotate-too-long.env": b"# @rotate 100001d\nA=\n",
    "rotate-zero.env": b"# @rotate 0d\nA=\n",
    "rotate-no-unit.env": b"# @rotate 90\nA=\n",
    "rotate-trailing.env": b"# @rotate 1d extra\nA=\n",
    "optional-conventions.env": b"A= # optional\nB=x # Optional: set in prod\n"
    b"C= # optionally\nD= # non-optional\nE= # not optional\n# F=\n"
    b"#G=commented\n# export H=1\n# @optional\n# I=\n",
    "descriptions.env": b"# first line\n# second line\n#\n#    indented\n"
    b"A=1\n# other text\n# NOT=an annotation target\n# @type int\nB=2\n",
    "commented-and-live.env": b"# A=alternative\nA=live\n# A=another\n"
    b"# @type port\n# B=80\nB=8080\n",
    "malformed-annotations.env": b"# @\nA=1\n",
    "unknown-annotation.env": b"# @sensitive\nA=1\n",
    "unknown-annotation-dash.env": b"# @rotate-x 1d\nA=1\n",
    "annotation-no-space.env": b"# @type(url)\nA=1\n",
    "optional-argument.env": b"# @optional yes\nA=1\n",
    "duplicate-type.env": b"# @type int\n# @type port\nA=1\n",
    "duplicate-rotate.env": b"# @rotate 1d\n# @rotate 2d\nA=1\n",
    "duplicate-optional.env": b"# @optional\n# @optional\nA=1\n",
    "bad-enum-empty.env": b"# @type enum()\nA=1\n",
    "bad-enum-choice.env": b"# @type enum(a,,b)\nB=2\n",
    "bad-enum-unclosed.env": b"# @type enum(a,b\nB=2\n",
    "bad-regex.env": b"# @type regex([)\nA=1\n",
    "bad-regex-empty.env": b"# @type regex()\nB=2\n",
    "unknown-type.env": b"# @type uuid\nA=1\n",
    "orphan-annotation.env": b"# @type url\n\nA=1\n# @optional\n",
    "control-char.env": b"# @type\x01 int\nA=1\n# @type int\x7f\nB=2\n",
    "assigned-twice.env": b"A=1\nA=2\n",
    "invalid-name.env": b"1A=1\n",
    "syntax-error.env": b"A=1\nnot an assignment\n",
    "crlf-annotations.env": b"# @type port\r\n# @rotate 30d\r\nPORT=80\r\n",
    "reuse-candidates.env": b"# @type url\nDATABASE_URL=postgres://real:secret@db/app\n"
    b"API_KEY=sk_live_0123456789\nSHORT=true\nSAME=sk_live_0123456789\n",
}


def write_dir(name, files, data_dir):
    out = os.path.join(corpus, name)
    os.makedirs(out, exist_ok=True)
    for f in sorted(os.listdir(data_dir)):
        if f.endswith(".env"):
            shutil.copyfile(os.path.join(data_dir, f),
                            os.path.join(out, "data-" + f))
    for f, b in files.items():
        with open(os.path.join(out, f), "wb") as fh:
            fh.write(b)


write_dir("dotenv", DOTENV, os.path.join(root, "tests", "data", "dotenv"))
write_dir("template", TEMPLATE,
          os.path.join(root, "tests", "data", "template"))
