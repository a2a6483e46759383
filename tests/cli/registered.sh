#!/usr/bin/env bash
# Fails when a tests/cli/tNNNN-*.sh script exists that meson.build does not run.
dir=$1
shift
echo "1..1"
missing=
for f in "$dir"/t[0-9][0-9][0-9][0-9]-*.sh; do
  [ -e "$f" ] || continue
  name=$(basename "$f" .sh)
  found=
  for t in "$@"; do [ "$t" = "$name" ] && found=1; done
  [ -n "$found" ] || missing="$missing $name"
done
if [ -z "$missing" ]; then
  echo "ok 1 - every cli test script is registered in tests/cli/meson.build"
else
  echo "not ok 1 - not registered in tests/cli/meson.build:$missing"
fi
