# shellcheck shell=bash
# Shared shell functions for the certificate scripts (sourced, not run).
#
# Layout of an output directory OUT:
#   ca.pem ca.key                 the CA (self-signed, EC P-256)
#   server.pem server.key         server certificate (localhost, 127.0.0.1, ::1)
#   NAME.pem NAME.key             client certificates (URI + DNS SANs)
#   crl/HASH.r0                   the CA's current CRL, named by subject hash
#   ca-db/                        `openssl ca` database (index.txt, serial, ...)
# Private keys are created with mode 0600. Nothing here is ever committed.

set -euo pipefail

CRM_SPIFFE_PREFIX="spiffe://crm.local/svc"
CRM_DNS_SUFFIX="svc.crm.local"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# new_key FILE: an EC P-256 private key with mode 0600.
new_key() {
  (umask 077 && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$1" 2>/dev/null) || die "cannot create key $1"
  chmod 600 "$1"
}

# write_ca_config OUT: the minimal `openssl ca` configuration and database.
write_ca_config() {
  local out="$1" db="$1/ca-db"
  mkdir -p "$db/newcerts"
  [[ -f "$db/index.txt" ]] || : >"$db/index.txt"
  [[ -f "$db/index.txt.attr" ]] || echo "unique_subject = no" >"$db/index.txt.attr"
  [[ -f "$db/serial" ]] || openssl rand -hex 16 >"$db/serial"
  [[ -f "$db/crlnumber" ]] || echo 1000 >"$db/crlnumber"
  cat >"$db/openssl.cnf" <<CNF
[ ca ]
default_ca = crm_ca

[ crm_ca ]
dir              = $db
database         = \$dir/index.txt
new_certs_dir    = \$dir/newcerts
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
certificate      = $out/ca.pem
private_key      = $out/ca.key
default_md       = sha256
default_days     = 825
default_crl_days = 3650
policy           = crm_policy
unique_subject   = no
copy_extensions  = none
email_in_dn      = no

[ crm_policy ]
commonName = supplied

[ req ]
distinguished_name = req_dn
prompt             = no

[ req_dn ]
CN = unused

[ v3_ca ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
CNF
}

# make_ca OUT CN: self-signed CA (ca.pem, ca.key) plus its database.
make_ca() {
  local out="$1" cn="$2"
  new_key "$out/ca.key"
  write_ca_config "$out"
  openssl req -new -x509 -config "$out/ca-db/openssl.cnf" -extensions v3_ca \
    -key "$out/ca.key" -subj "/CN=$cn" -days 3650 -sha256 \
    -out "$out/ca.pem" 2>/dev/null || die "cannot create CA in $out"
}

# sign OUT NAME CN SANS KIND [extra `openssl ca` args...]: key NAME.key and
# certificate NAME.pem signed by OUT's CA. KIND is serverAuth or clientAuth.
sign() {
  local out="$1" name="$2" cn="$3" sans="$4" kind="$5"
  shift 5
  local tmp
  tmp="$(mktemp -d)"
  new_key "$out/$name.key"
  cat >"$tmp/ext.cnf" <<EXT
[ leaf ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = $kind
subjectAltName         = $sans
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid
EXT
  openssl req -new -config "$out/ca-db/openssl.cnf" -key "$out/$name.key" \
    -subj "/CN=$cn" -out "$tmp/req.csr" 2>/dev/null \
    || die "cannot create request for $name"
  openssl ca -batch -notext -config "$out/ca-db/openssl.cnf" \
    -extfile "$tmp/ext.cnf" -extensions leaf -in "$tmp/req.csr" \
    -out "$out/$name.pem" "$@" 2>"$tmp/err" \
    || { cat "$tmp/err" >&2; die "cannot sign certificate for $name"; }
  rm -rf "$tmp"
}

# sign_client OUT SERVICE [extra args]: a client certificate whose identity
# is spiffe://crm.local/svc/SERVICE (URI SAN) and SERVICE.svc.crm.local.
sign_client() {
  local out="$1" svc="$2"
  shift 2
  sign "$out" "$svc" "$svc" \
    "URI:$CRM_SPIFFE_PREFIX/$svc, DNS:$svc.$CRM_DNS_SUFFIX" clientAuth "$@"
}

# write_crl OUT: regenerate the CA's CRL and install it atomically as
# OUT/crl/HASH.r0 (the name OpenSSL's hashed-directory lookup expects).
write_crl() {
  local out="$1" hash tmp
  mkdir -p "$out/crl"
  tmp="$(mktemp "$out/crl/.new.XXXXXX")"
  openssl ca -gencrl -config "$out/ca-db/openssl.cnf" -out "$tmp" 2>/dev/null \
    || die "cannot generate CRL in $out"
  chmod 644 "$tmp"
  hash="$(openssl crl -hash -noout -in "$tmp")"
  mv -f "$tmp" "$out/crl/$hash.r0"
}

# revoke OUT NAME: revoke OUT/NAME.pem and rewrite the CRL.
revoke() {
  local out="$1" name="$2"
  [[ -f "$out/$name.pem" ]] || die "no certificate $out/$name.pem"
  openssl ca -config "$out/ca-db/openssl.cnf" -revoke "$out/$name.pem" \
    -crl_reason keyCompromise 2>/dev/null || die "cannot revoke $out/$name.pem"
  write_crl "$out"
}
