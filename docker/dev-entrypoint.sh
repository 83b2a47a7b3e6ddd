#!/bin/sh
# Dev container entrypoint: trust an optional extra CA bundle, then run the command.
# compose mounts the bundle named by EXTRA_CA_BUNDLE at /run/secrets/extra_ca (an empty file
# when it is unset). It is joined to the system CAs so that both kinds of hosts work, and
# handed to Python, pip and requests; the venv's pip.conf covers shells that skip this script
# (`devcontainer exec`, VS Code terminals).
set -eu
extra=/run/secrets/extra_ca
if [ -s "$extra" ]; then
  bundle="${TMPDIR:-/tmp}/ca-bundle.pem"
  cat /etc/ssl/certs/ca-certificates.crt "$extra" >"$bundle"
  export SSL_CERT_FILE="$bundle" PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle"
  printf '[global]\ncert = %s\n' "$bundle" >"$VIRTUAL_ENV/pip.conf" 2>/dev/null || true
fi
exec "$@"
