#!/usr/bin/env bash
# revoke.sh OUT_DIR NAME
#
# Revokes OUT_DIR/NAME.pem with OUT_DIR's CA and atomically rewrites the CRL
# OUT_DIR/crl/HASH.r0. A running server picks it up within its TLS refresh
# interval (see server/tls.h).
# shellcheck source=certs/certlib.sh
source "$(dirname "$0")/certlib.sh"
[[ $# -eq 2 ]] || die "usage: $0 OUT_DIR NAME"
revoke "$1" "$2"
