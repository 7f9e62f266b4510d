#!/usr/bin/env bash
# make-dev-certs.sh [--force] OUT_DIR [SERVICE...]
#
# Makes a development CA, a server certificate for localhost and one client
# certificate per service (default: web-frontend billing order-fulfilment
# marketing campaigns admin-cli), plus the CA's (empty) CRL in OUT_DIR/crl/HASH.r0.
# Existing files are kept; --force regenerates everything but the
# encryption master key (master.key).
# shellcheck source=certs/certlib.sh
source "$(dirname "$0")/certlib.sh"

force=0
if [[ "${1:-}" == "--force" ]]; then force=1; shift; fi
[[ $# -ge 1 ]] || die "usage: $0 [--force] OUT_DIR [SERVICE...]"
out="$1"
shift
services=("$@")
[[ ${#services[@]} -gt 0 ]] || \
  services=(web-frontend billing order-fulfilment marketing campaigns admin-cli)
for svc in "${services[@]}"; do
  [[ "$svc" =~ ^[a-z][a-z0-9-]{0,62}$ ]] || die "invalid service name '$svc'"
done

mkdir -p "$out"
out="$(cd "$out" && pwd)"
if [[ $force -eq 1 ]]; then
  rm -rf "$out/ca-db" "$out/crl" "$out"/*.pem
  # Every key but master.key (replacing it would lose the encrypted data).
  for key in "$out"/*.key; do
    [[ "$(basename "$key")" == master.key ]] || rm -f "$key"
  done
fi

if [[ ! -f "$out/ca.pem" || ! -f "$out/ca.key" ]]; then
  rm -rf "$out/ca-db" "$out/crl"
  make_ca "$out" "CRM Dev CA"
else
  write_ca_config "$out"
fi
if [[ ! -f "$out/server.pem" || ! -f "$out/server.key" ]]; then
  sign "$out" server localhost "DNS:localhost, IP:127.0.0.1, IP:::1" serverAuth
fi
for svc in "${services[@]}"; do
  if [[ ! -f "$out/$svc.pem" || ! -f "$out/$svc.key" ]]; then
    sign_client "$out" "$svc"
  fi
done
write_crl "$out"
# The Ed25519 key that signs audit checkpoints (AuditConfig.signing_key_file).
if [[ ! -f "$out/audit-signing.key" ]]; then
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$out/audit-signing.key")
  openssl pkey -in "$out/audit-signing.key" -pubout -out "$out/audit-signing.pub.pem"
fi
# The master key that wraps the data keys of fields encrypted at rest
# (EncryptionConfig.master_key_file): 64 hex characters, mode 0600. Never
# replaced once made: a new one would make every encrypted value in the
# dev database unreadable (--force above keeps it too).
if [[ ! -f "$out/master.key" ]]; then
  (umask 077 && openssl rand -hex 32 > "$out/master.key")
  chmod 600 "$out/master.key"
fi
echo "certificates in $out"
