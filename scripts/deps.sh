#!/usr/bin/env bash
# Installs the Debian packages envx needs to build and test (run as root, or
# with sudo available). The single list shared by the README and CI.
set -euo pipefail
packages=(
  build-essential meson ninja-build pkg-config
  libsodium-dev libsqlite3-dev libcurl4-openssl-dev libjansson-dev
  libargon2-dev libcmocka-dev
  scdoc sqlite3 dash clang-format valgrind python3 git fish zsh curl bash-completion
  clang libclang-rt-14-dev
)
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
