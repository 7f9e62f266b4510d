#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs, if any are missing.
# Safe to run repeatedly; needs root (or sudo) only when something is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git python3 openssl
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libssl-dev libsoci-dev libboost-dev libpq-dev libsqlite3-dev
  libgtest-dev libgmock-dev libbenchmark-dev libmaxminddb-dev libargon2-dev
  prometheus-cpp-dev postgresql-15 postgresql-client-15 tzdata
  libmaxmind-db-writer-perl python3-grpcio python3-cryptography grpc-proto curl
  sqlite3
  chromium fonts-dejavu-core
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
