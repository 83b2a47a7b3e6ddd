#!/bin/sh
# Dev container entrypoint: become the owner of the mounted checkout, trust an optional extra CA
# bundle, run the command.
#
# One image serves every developer: started as root, it gives user `app` the uid and gid that
# own /app (the bind-mounted checkout: yours, whatever your id; root's if you work as root),
# so that what the container writes there is yours and git sees its own files. Then it drops
# to `app`. Started as another user (`docker run -u`), it changes nothing.
#
# The extra CA bundle: compose mounts the file named by EXTRA_CA_BUNDLE at
# /run/secrets/extra_ca (an empty file when unset). It is joined to the system CAs and handed
# to Python and uv (SSL_CERT_FILE), pip and requests; the venv's pip.conf covers shells that
# skip this script (`docker exec`, VS Code terminals), and pin-install joins it again there.
set -eu
if [ "$(id -u)" = 0 ]; then
  uid=$(stat -c %u /app) gid=$(stat -c %g /app)
  if [ "$(id -u app)" != "$uid" ] || [ "$(id -g app)" != "$gid" ]; then
    getent group "$gid" >/dev/null || groupadd -g "$gid" checkout
    usermod -o -u "$uid" -g "$gid" app
  fi
  # The venv is group-writable for the group that owns it (1000, from the build): `app` keeps
  # that group as a supplementary one, whatever its own ids (set above, or by the Dev Containers
  # CLI's updateRemoteUserUID, which renumbers group `app`). No `chown -R` of the venv: that
  # copies all of it out of the image's layer, seconds at every start.
  venv_gid=$(stat -c %g /opt/venv)
  if ! id -G app | tr ' ' '\n' | grep -qx "$venv_gid"; then
    venv_group=$(getent group "$venv_gid" | cut -d: -f1)
    [ -n "$venv_group" ] || { groupadd -g "$venv_gid" venv && venv_group=venv; }
    usermod -a -G "$venv_group" app
  fi
fi
extra=/run/secrets/extra_ca
if [ -s "$extra" ]; then
  bundle=/tmp/ca-bundle.pem
  cat /etc/ssl/certs/ca-certificates.crt "$extra" >"$bundle"
  chmod 0644 "$bundle"
  export SSL_CERT_FILE="$bundle" PIP_CERT="$bundle" REQUESTS_CA_BUNDLE="$bundle"
  printf '[global]\ncert = %s\n' "$bundle" >"$VIRTUAL_ENV/pip.conf" 2>/dev/null || true
fi
if [ "$(id -u)" = 0 ]; then
  export HOME=/home/app USER=app LOGNAME=app
  exec setpriv --reuid=app --regid="$(id -g app)" --init-groups -- "$@"
fi
exec "$@"
