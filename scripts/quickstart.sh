#!/usr/bin/env bash
# The README's first command: install the packages, build envx into ./build,
# then run its main job on a throwaway vault in a temporary directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/deps.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
envx="$root/build/envx"

demo=$(mktemp -d)
trap 'rm -rf "$demo"' EXIT
cd "$demo"
export HOME="$demo/home" XDG_CONFIG_HOME="$demo/home/.config"
mkdir -p "$HOME"
unset ENVX_VAULT ENVX_IDENTITY ENVX_IDENTITY_FILE ENVX_PASSPHRASE

echo "\$ envx init"
"$envx" init
echo "\$ printf 'postgres://app:s3cret@localhost:5432/app' | envx set local DATABASE_URL --rotate-every 90d"
printf 'postgres://app:s3cret@localhost:5432/app' | "$envx" set local DATABASE_URL --rotate-every 90d
echo "\$ envx list local"
"$envx" list local
if "$envx" help exec >/dev/null 2>&1; then
  echo "\$ envx exec local -- sh -c 'echo \"the app sees DATABASE_URL=\$DATABASE_URL (ENVX_ENV=\$ENVX_ENV)\"'"
  "$envx" exec local -- sh -c 'echo "the app sees DATABASE_URL=$DATABASE_URL (ENVX_ENV=$ENVX_ENV)"'
else
  echo "\$ envx get local DATABASE_URL"
  "$envx" get local DATABASE_URL
  echo
fi
echo "\$ grep -c s3cret envx.vault   # the vault holds only ciphertext"
grep -c s3cret envx.vault || true
cat <<NEXT

envx works: it is build/envx (meson install -C build puts it on your PATH).
Next, in your own project:
  envx init                       # envx.vault here, safe to commit
  envx import local .env          # your existing .env, then delete the file
  envx exec local -- npm run dev  # your app with the secrets in its environment
  envx check local                # compare with .env.example (names, types, leaks)
NEXT
