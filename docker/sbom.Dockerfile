# The SBOM of an image's Python packages (scripts/sbom, `make sbom`): a CycloneDX JSON made in a
# throwaway stage on top of that image, so the image's own Python reads its own venv. Only the
# JSON leaves the build (an export of the last stage); the image itself gains nothing.
#   docker buildx build -f docker/sbom.Dockerfile --build-arg IMAGE=berth:prod -o out .

# The image to describe: a local tag (the docker driver uses the engine's images) or a
# registry reference.
ARG IMAGE=berth:prod

FROM ${IMAGE} AS scan

# The generator needs a writable venv of its own; the stage is never shipped.
# hadolint ignore=DL3002
USER 0

# cyclonedx-bom, pinned with its hashes (docker/requirements-sbom.txt), in a venv of its own
# beside the image's; wheels only (lxml and rpds-py are compiled code, and the image has no
# compiler). A pip cache of its own (the image builds do not wait for it), and the optional CA
# bundle as in the main Dockerfile.
RUN --mount=type=cache,id=berth-sbom-pip,target=/root/.cache/pip,sharing=locked \
    --mount=type=secret,id=extra_ca,required=false \
    --mount=type=tmpfs,target=/tmp/ca \
    --mount=type=bind,source=docker/pin-install.py,target=/usr/local/bin/pin-install \
    --mount=type=bind,source=docker/requirements-sbom.txt,target=/tmp/requirements-sbom.txt \
    python -m venv /opt/sbom \
    && PATH="/opt/sbom/bin:$PATH" pin-install pip install --quiet --require-hashes \
      --only-binary :all: -r /tmp/requirements-sbom.txt

# The venv's packages with their licences (cyclonedx-py environment), the app as the main
# component (pyproject.toml), and each package's hashes from requirements.txt (cyclonedx-py
# requirements), joined by docker/sbom.py, which validates the result. Reproducible: no
# timestamp, no random serial number.
RUN --mount=type=bind,source=requirements.txt,target=/tmp/in/requirements.txt \
    --mount=type=bind,source=pyproject.toml,target=/tmp/in/pyproject.toml \
    --mount=type=bind,source=docker/sbom.py,target=/tmp/in/sbom.py \
    /opt/sbom/bin/cyclonedx-py environment --output-reproducible --no-validate \
      --pyproject /tmp/in/pyproject.toml -o /tmp/venv.cdx.json "$VIRTUAL_ENV" \
    && /opt/sbom/bin/cyclonedx-py requirements --output-reproducible --no-validate \
      -o /tmp/pins.cdx.json /tmp/in/requirements.txt \
    && /opt/sbom/bin/python /tmp/in/sbom.py /tmp/venv.cdx.json /tmp/pins.cdx.json /sbom.cdx.json

FROM scratch AS sbom
COPY --from=scan /sbom.cdx.json /
