# The pip baseline for the pin-change and first-build figures: berth's Dockerfile with pip
# instead of uv in the deps and dev-deps stages (tools/bench/pip-install.sh as the helper), so
# that the figures show what uv saves. NOT how berth builds its images (see ../Dockerfile); used by bench/ only.
#   docker build -f tools/bench/pip.Dockerfile --target prod|dev .

# Users pick their Python; the default is the one CI tests.
ARG PYTHON_VERSION=3.13
ARG PYTHON_IMAGE=python:${PYTHON_VERSION}-slim

# ---------------------------------------------------------------------------------------------
# base: what every stage shares.
FROM ${PYTHON_IMAGE} AS base

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
# deps: runtime dependencies in a venv, built apart so prod can copy the venv and nothing else.
FROM base AS deps

# A venv without pip: prod never installs anything, so pip stays out of the shipped venv.
RUN python -m venv --without-pip "$VIRTUAL_ENV"

# Only the pins, so that a code change never invalidates the install layer below.
COPY requirements.txt /tmp/requirements.txt

# The base image's pip (the venv has none) installs the pins into the venv. The cache mount keeps
# downloads between builds without storing them; the optional CA bundle is a secret and the
# helper joins it to the system CAs in a tmpfs, so neither lands in a layer.
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,source=tools/bench/pip-install.sh,target=/usr/local/bin/pip-install \
    pip-install -r /tmp/requirements.txt

# ---------------------------------------------------------------------------------------------
# dev-deps: the dev tools on top of the runtime venv (with pip, so you can try packages in dev).
FROM deps AS dev-deps

COPY requirements-dev.txt /tmp/requirements-dev.txt

# Same mounts as above; ensurepip first gives the dev venv its own pip, for trying packages.
RUN --mount=type=cache,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,source=tools/bench/pip-install.sh,target=/usr/local/bin/pip-install \
    "$VIRTUAL_ENV/bin/python" -m ensurepip --default-pip >/dev/null \
    && pip-install -r /tmp/requirements-dev.txt

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

# The venv belongs to `app`, so `pip install` works in the container without root.
COPY --link --from=dev-deps --chown=1000:1000 /opt/venv /opt/venv

# Flask's debug mode for the dev server; `pytest` in the container runs the unit tests (the
# integration and container tests run from the host: scripts/test).
ENV FLASK_DEBUG=1 \
    PYTEST_ADDOPTS="-m 'not docker and not integration'"

# The entrypoint adopts the checkout's owner and trusts the optional CA bundle at run time.
COPY --link --chmod=0755 docker/dev-entrypoint.sh /usr/local/bin/dev-entrypoint
COPY --link --chmod=0755 docker/healthcheck.py /usr/local/bin/healthcheck

# A copy of the source makes the image usable alone (CI, `docker run`); compose mounts over it.
COPY --link --chown=1000:1000 . /app

# The app (8000) and debugpy (5678); compose publishes them on 127.0.0.1 only.
EXPOSE 8000 5678

# The dev server is fast to start; the healthcheck runs often so `compose up --wait` is quick.
HEALTHCHECK --interval=5s --timeout=3s --start-period=30s --start-interval=1s --retries=3 \
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

# Only the runtime venv: no pip, no dev tools, no build cache.
COPY --link --from=deps /opt/venv /opt/venv

# Healthcheck script: urllib only, so no curl/wget in the image.
COPY --link --chmod=0755 docker/healthcheck.py /usr/local/bin/healthcheck

# Code last, owned by root and read-only to the app user. No compileall step: the venv's
# packages are compiled by pip already, the app's few modules compile in milliseconds at
# start, and one RUN fewer keeps a code-only rebuild at about a quarter of a second.
COPY --link prod /app/prod
COPY --link app /app/app

# Mount a named volume here to keep the notes across containers.
VOLUME ["/data"]

# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER ${UID}:${GID}

EXPOSE 8000

# Every 10 s after start; a fresh container is checked every second during its first 30 s.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --start-interval=1s --retries=3 \
    CMD ["healthcheck"]

# Exec form: the launcher checks every setting, then execs gunicorn, which keeps PID 1 and
# gets SIGTERM from `docker stop` directly.
CMD ["python", "-m", "prod"]
