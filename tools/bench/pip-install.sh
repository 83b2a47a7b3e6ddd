#!/bin/sh
# `pip install` into the image's venv, hash-checked, trusting the optional extra CA bundle.
# The pip baseline's helper (tools/bench/pip.Dockerfile): docker/pin-install.py's pip side.
# Build-time only: the Dockerfile bind-mounts this script, so no image contains it. The bundle
# arrives as the BuildKit secret `extra_ca` and is joined to the system CAs in the tmpfs at
# /tmp/ca, so neither the secret nor the joined file can end up in a layer.
set -eu
extra=/run/secrets/extra_ca
if [ -s "$extra" ]; then
  cat /etc/ssl/certs/ca-certificates.crt "$extra" >/tmp/ca/bundle.pem
  export PIP_CERT=/tmp/ca/bundle.pem
fi
exec pip --python "$VIRTUAL_ENV/bin/python" install --require-hashes --no-deps "$@"
