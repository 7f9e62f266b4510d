#!/usr/bin/env bash
# One command to a running dev server: installs what is missing, builds,
# makes dev certificates (certs/out/), and runs the server on the embedded
# SQLite database (var/dev/crm.db) with the demo organisation loaded.
# Stop it with Ctrl-C (graceful shutdown).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DCMAKE_BUILD_TYPE=RelWithDebInfo
certs/make-dev-certs.sh certs/out
mkdir -p var/dev
[ -f var/dev/geoip-demo.mmdb ] || perl tests/testdata/make-test-geoip.pl var/dev/geoip-demo.mmdb
cat <<MSG

The CRM server is starting on localhost:8443 (mTLS). In another terminal:
  build/clients/crmctl accounts list
  build/clients/crmctl --output json contacts get contacts/ada
  build/clients/crmctl echo hello
(crmctl uses certs/out/admin-cli.pem by default; see README.md.)

MSG
exec build/server/crm_server --config=server/dev.textproto --demo "$@"
