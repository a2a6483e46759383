#!/usr/bin/env node
// Regenerates the "pairs" (or, for cases where envx deliberately differs,
// the "dotenv") field of every tests/data/dotenv/*.json from what the npm
// `dotenv` package's parse() returns for the matching .env file. The
// "warnings", "errors", "differs" and "flags" fields are envx's own contract
// and are kept as they are. See README.md in this directory.
//
// Usage: node gen-expected.js [--check] [path/to/node_modules/dotenv]
//   --check   write nothing; exit 1 if any file would change
'use strict';

const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const check = args.includes('--check');
const modPath = args.find((a) => a !== '--check') || 'dotenv';
const dotenv = require(modPath);
const dir = __dirname;

let changed = 0;
for (const file of fs.readdirSync(dir).sort()) {
  if (!file.endsWith('.env')) {
    continue;
  }
  const envPath = path.join(dir, file);
  const jsonPath = envPath.replace(/\.env$/, '.json');
  const parsed = dotenv.parse(fs.readFileSync(envPath));
  let old = {};
  if (fs.existsSync(jsonPath)) {
    old = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
  }
  const out = {};
  if (old.differs) {
    // envx's expectation is written by hand; record npm's answer beside it
    out.differs = old.differs;
    out.pairs = old.pairs || {};
    out.dotenv = parsed;
  } else {
    out.pairs = parsed;
  }
  out.warnings = old.warnings || [];
  out.errors = old.errors || [];
  if (old.flags) {
    out.flags = old.flags;
  }
  const text = JSON.stringify(out, null, 2) + '\n';
  const before = fs.existsSync(jsonPath) ? fs.readFileSync(jsonPath, 'utf8') : '';
  if (text !== before) {
    changed++;
    console.log((check ? 'out of date: ' : 'updated: ') + path.basename(jsonPath));
    if (!check) {
      fs.writeFileSync(jsonPath, text);
    }
  }
}
console.log(`${changed} file(s) ${check ? 'out of date' : 'updated'}`);
process.exit(check && changed ? 1 : 0);
