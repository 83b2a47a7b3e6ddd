# The baseline for the rebuild and size figures: a single-stage Dockerfile of the kind
# tutorials show. NOT how berth builds its images (see ../Dockerfile); used by bench/ only.
#
# The one addition is the optional CA bundle secret, so that pip can get through a
# TLS-intercepting proxy; it changes nothing else (no cache mount, no layer ordering).
# `--no-cache-dir`, as most tutorials have it, keeps pip's cache out of the image so the
# size comparison is not inflated by it.
# The base image as berth's Dockerfile names it (PYTHON_IMAGE: a company mirror's name).
ARG PYTHON_IMAGE=python:3.13-slim
FROM ${PYTHON_IMAGE} AS naive

WORKDIR /app

COPY . .

RUN --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    if [ -s /run/secrets/extra_ca ]; then \
      cat /etc/ssl/certs/ca-certificates.crt /run/secrets/extra_ca > /tmp/ca/bundle.pem; \
      export PIP_CERT=/tmp/ca/bundle.pem; \
    fi; \
    pip install --no-cache-dir -r requirements.txt

EXPOSE 8000

CMD ["gunicorn", "--bind", "0.0.0.0:8000", "app:create_app()"]
