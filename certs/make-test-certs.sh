#!/usr/bin/env bash
# make-test-certs.sh OUT_DIR
#
# Everything the tests need, generated fresh (OUT_DIR should be a new temp
# directory):
#   the dev set for web-frontend billing gateway admin-cli campaigns
#   web-forms (the last two for the consent tests),
#   unregistered.pem/.key  valid CA, identity spiffe://crm.local/svc/unregistered
#   other-ca.pem, foreign.pem/.key   a client signed by another CA
#   expired.pem/.key       validity entirely in the past
#   revoked.pem/.key       revoked; the CRL in OUT_DIR/crl lists it
# shellcheck source=certs/certlib.sh
source "$(dirname "$0")/certlib.sh"
[[ $# -eq 1 ]] || die "usage: $0 OUT_DIR"
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
"$here/make-dev-certs.sh" --force "$out" web-frontend billing gateway admin-cli \
  campaigns web-forms \
  >/dev/null
out="$(cd "$out" && pwd)"

sign_client "$out" unregistered
sign_client "$out" expired -startdate 20200101000000Z -enddate 20200201000000Z
sign_client "$out" revoked
revoke "$out" revoked

# A second, unrelated CA and a client it signed.
other="$out/other-ca"
mkdir -p "$other"
make_ca "$other" "Other CA"
sign_client "$other" web-frontend
cp "$other/ca.pem" "$out/other-ca.pem"
cp "$other/web-frontend.pem" "$out/foreign.pem"
(umask 077 && cp "$other/web-frontend.key" "$out/foreign.key")
# A master key for fields encrypted at rest (EncryptionConfig), for
# servers the end-to-end scripts start (C++ tests make one per server).
if [[ ! -f "$out/master.key" ]]; then
  (umask 077 && openssl rand -hex 32 > "$out/master.key")
fi
echo "test certificates in $out"
