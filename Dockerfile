# berth: one Dockerfile, two targets.
#   docker build --target prod -t berth:prod .   lean runtime, non-root, gunicorn
#   docker build --target dev  -t berth:dev  .   + debugpy, watchdog, pytest, ruff, uv; for compose
# Optional CA bundle for TLS-intercepting proxies (never stored in a layer):
#   docker build --secret id=extra_ca,src=/path/to/ca.pem ...

# Users pick their Python; the default is the one CI tests.
ARG PYTHON_VERSION=3.13
# The base image by its full name, for a company mirror or registry
# (registry.example.com/library/python:3.13-slim) or another platform's stand-in.
ARG PYTHON_IMAGE=python:${PYTHON_VERSION}-slim

# ---------------------------------------------------------------------------------------------
# base: what every stage shares.
FROM ${PYTHON_IMAGE} AS base

# Which base the image was built from, where tools look for it (OCI annotation), whatever the
# registry: `docker inspect` answers which mirror or version an image came from.
ARG PYTHON_IMAGE
LABEL org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# No .pyc litter in bind mounts, logs straight to `docker logs`, one venv on PATH for every user.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
# pip: no version nag and no long stalls on a slow network.
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_DEFAULT_TIMEOUT=60
# The app's settings for containers: the SQLite data lives on a volume, the server port is fixed.
ENV DATA_DIR=/data \
    PORT=8000

# The app code lives here in both targets (dev bind-mounts the source over it).
WORKDIR /app

# ---------------------------------------------------------------------------------------------
# uv: the installer, build-only. The images install their pins with uv (fast, hash-checked); no
# image ships it but dev, which copies the binary so that new pins apply in a running container.
FROM base AS uv

# The uv wheel, pinned with its hashes like every other dependency.
COPY docker/requirements-uv.txt /tmp/requirements-uv.txt

# The base image's pip fetches it (its cache kept in a cache mount); pin-install trusts the
# optional CA secret from a tmpfs, so neither the secret nor the joined bundle lands in a layer.
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,source=docker/pin-install.py,target=/usr/local/bin/pin-install \
    pin-install pip install --require-hashes --no-deps --target /opt/uv -r /tmp/requirements-uv.txt

# ---------------------------------------------------------------------------------------------
# deps: runtime dependencies in a venv, built apart so prod can copy the venv and nothing else.
FROM base AS deps

# A venv without pip: prod never installs anything, so pip stays out of the shipped venv.
RUN python -m venv --without-pip "$VIRTUAL_ENV"

# Only the pins, so that a code change never invalidates the install layer below.
COPY requirements.txt /tmp/requirements.txt

# uv, mounted from its stage, makes the venv exactly the pins (every hash checked). Its cache
# mount keeps downloads between builds without storing them (copy: the cache is another file
# system); the optional CA secret as above. Compiled: prod's root file system is read-only,
# so nothing could cache the bytecode at run time (docs/benchmarks.md has the trade-off). Wheels
# only (--no-build): gevent and greenlet are compiled code, and a missing wheel must fail here,
# not look for a compiler. The same mounts are written out again at each install step below:
# a Dockerfile cannot name a set of mounts once for several RUN steps, and an installer stage
# cannot stand in for them, since each step installs into its own stage's venv. Keep them alike.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,from=uv,source=/opt/uv/bin/uv,target=/usr/local/bin/uv \
    --mount=type=bind,source=docker/pin-install.py,target=/usr/local/bin/pin-install \
    pin-install uv pip sync --require-hashes --no-build --link-mode=copy --compile-bytecode \
      /tmp/requirements.txt

# ---------------------------------------------------------------------------------------------
# dev-deps: the dev venv (runtime pins, dev tools, pip for trying packages by hand), built apart
# from deps so that a dev build needs this stage only.
FROM base AS dev-deps

# pip comes from the pins (requirements-dev.txt), like everything else in this venv.
RUN python -m venv --without-pip "$VIRTUAL_ENV"

# The pins the venv is built from stay in it: the dev server compares them with your checkout's
# to notice a pin change (dev/dependencies.py). The dev tools' first: they change less often.
COPY requirements-dev.txt /opt/venv/pins/

# The dev tools (requirements-dev.txt less its `-r requirements.txt`, listed in the tmpfs) in a
# layer of their own, compiled: most of the bytecode is theirs, so a runtime pin change does
# not redo it. Mounts and options as in deps. Group-writable (only what is not yet: no copy of
# the layer below), so that any checkout owner can change the venv without a chown at start.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,from=uv,source=/opt/uv/bin/uv,target=/usr/local/bin/uv \
    --mount=type=bind,source=docker/pin-install.py,target=/usr/local/bin/pin-install \
    grep -v '^-r ' /opt/venv/pins/requirements-dev.txt >/tmp/ca/dev-tools.txt \
    && pin-install uv pip install --require-hashes --no-deps --link-mode=copy \
      --compile-bytecode -r /tmp/ca/dev-tools.txt \
    && find "$VIRTUAL_ENV" ! -perm -g+w -exec chmod g+w {} +

# The runtime pins after the dev tools: changing them reruns the step below, not the one above.
COPY requirements.txt /opt/venv/pins/

# Then the venv becomes exactly the pins (requirements-dev.txt includes requirements.txt): the
# runtime packages are added, and uv compiles only their files. Compiled, so that each reload
# imports Flask and debugpy fast.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,from=uv,source=/opt/uv/bin/uv,target=/usr/local/bin/uv \
    --mount=type=bind,source=docker/pin-install.py,target=/usr/local/bin/pin-install \
    pin-install uv pip sync --require-hashes --no-build --link-mode=copy --compile-bytecode \
      /opt/venv/pins/requirements-dev.txt \
    && find "$VIRTUAL_ENV" ! -perm -g+w -exec chmod g+w {} +

# ---------------------------------------------------------------------------------------------
# dev: the image docker-compose.dev.yml and .devcontainer/ run, with your source bind-mounted.
FROM base AS dev

# git for the editor's source control, procps for `ps`; no compilers needed.
# DL3008 (pin apt versions): unpinned on purpose, dev tools follow the base image's updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends git procps \
    && rm -rf /var/lib/apt/lists/*

# One image for every developer: the entrypoint gives user `app` the ids of whoever owns the
# mounted checkout (root included) before dropping to it. /data is open to any user, like /tmp.
RUN groupadd -g 1000 app \
    && useradd -l -m -u 1000 -g app -s /bin/bash app \
    && install -d -o app -g app /opt/venv /app \
    && install -d -m 1777 /data

# The venv belongs to `app` and is group-writable: whatever ids the entrypoint gives `app`, it
# keeps group 1000, so `pip install` works in the container without root, and so does the dev
# server's uv sync when the pins change.
COPY --link --from=dev-deps --chown=1000:1000 /opt/venv /opt/venv

# uv and the install helper, for that sync (dev only: prod has neither).
COPY --link --from=uv /opt/uv/bin/uv /usr/local/bin/uv
COPY --link --chmod=0755 docker/pin-install.py /usr/local/bin/pin-install

# `pytest` in the container runs the unit tests (the integration and container tests run from
# the host: scripts/test).
ENV PYTEST_ADDOPTS="-m 'not docker and not integration'"

# The entrypoint adopts the checkout's owner and trusts the optional CA bundle at run time.
COPY --link --chmod=0755 docker/dev-entrypoint.sh /usr/local/bin/dev-entrypoint
COPY --link --chmod=0755 docker/healthcheck.py /usr/local/bin/healthcheck

# A copy of the source makes the image usable alone (CI, `docker run`); compose mounts over it.
COPY --link --chown=1000:1000 . /app

# The app (8000) and debugpy (5678); compose publishes them on 127.0.0.1 only.
EXPOSE 8000 5678

# The dev server is fast to start; the healthcheck runs often so `compose up --wait` is quick.
# The timeout as prod's (below).
HEALTHCHECK --interval=5s --timeout=10s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["healthcheck"]

# Starts as root (the base image's user) only to adopt the checkout owner's ids, then runs
# everything as `app` (setpriv).
ENTRYPOINT ["dev-entrypoint"]
# The dev server: reload on save, debugpy for your editor (dev/serve.py).
CMD ["python", "-m", "dev.serve"]

# ---------------------------------------------------------------------------------------------
# prod: the runtime venv and the app code, run by gunicorn as an unprivileged user.
FROM base AS prod

# A fixed system user outside the host's usual range; it owns nothing but /data.
ARG UID=10001
ARG GID=10001

# No home, no shell, no password; /data is the one place the app may write.
RUN groupadd -g "$GID" app \
    && useradd -r -l -u "$UID" -g app -d /nonexistent -s /usr/sbin/nologin app \
    && install -d -o app -g app -m 0750 /data

# Only the runtime venv: no pip, no uv, no dev tools, no build cache.
COPY --link --from=deps /opt/venv /opt/venv

# Healthcheck script: urllib only, so no curl/wget in the image.
COPY --link --chmod=0755 docker/healthcheck.py /usr/local/bin/healthcheck

# Code last, owned by root and read-only to the app user. No compileall step: the venv's
# packages are compiled by uv already (deps), the app's few modules compile in milliseconds at
# start, and one RUN fewer keeps a code-only rebuild at about a quarter of a second.
COPY --link prod /app/prod
COPY --link app /app/app
COPY --link setting.py /app/setting.py

# The commit it is built from, for the build info metric (`make prod-build` passes it); last,
# so that a new commit rebuilds nothing.
ARG GIT_COMMIT=""
ENV GIT_COMMIT=${GIT_COMMIT}

# Mount a named volume here to keep the notes across containers.
VOLUME ["/data"]

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER ${UID}:${GID}

# The app, and its metrics (METRICS_PORT) for a scraper inside the cluster, never the internet.
EXPOSE 8000 9000

# Every 10 s after start; a fresh container is checked every second during its first 30 s.
# The timeout only bounds a check that hangs: each check starts a Python, which takes seconds
# on a busy machine and about 5 s emulated (an arm64 image on amd64), where 3 s always failed.
# HEALTHCHECK takes no build argument, so the one timeout must hold everywhere.
HEALTHCHECK --interval=10s --timeout=10s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["healthcheck"]

# Exec form: the launcher checks every setting (one line and exit 2 on a bad one), then execs
# gunicorn, which keeps PID 1 and gets SIGTERM from `docker stop` directly.
CMD ["python", "-m", "prod"]
