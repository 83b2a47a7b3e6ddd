"""The release workflow's build (.github/workflows/release.yml), run here, gives the same image
as `make prod-build`.

"The same image": the same platform, the same image config (environment, user, command,
healthcheck, ports, volumes, labels...), the same history (each step's command), and the same
layers, by their diff IDs: the digests of their uncompressed contents, so one differing file
makes them differ. Both builds share this engine's build cache, so the same inputs give the same
layers; any input that differs (the Dockerfile, target, build arguments, files of the context)
gives a layer of its own. The negative control below shows the comparison sees that.

Left out of the release command, each with its reason: the push and the tags (where the image
goes, not what it is); the OCI labels and annotations (metadata-action makes them from the tag's
git context on GitHub; they add to the config and are the one intended difference); the
provenance and SBOM attestations (manifests beside the image in the pushed index, not part of
it; this engine's docker driver cannot make them). Only linux/amd64 is built: the release
command builds both platforms from one `FROM`, and here no arm64 base image answers to that name
(see docs/releasing.md).
"""

from __future__ import annotations

import json

from tools.harness.commands import run, unique
from tools.harness.docker import docker, extra_ca_bundle
from tools.harness.project import ROOT

RELEASE = ROOT / ".github" / "workflows" / "release.yml"
# build-push-action inputs that do not change the image, and why: see the module's docstring.
NOT_THE_IMAGE = {"push", "tags", "labels", "annotations", "provenance", "sbom"}
# The commit both builds name (on GitHub, the release's; here, any one).
COMMIT = "0123456789abcdef"
# Inputs whose buildx flag takes one value per line.
FLAGS = {"file": "--file", "target": "--target", "build-args": "--build-arg"}


def release_build(platform: str, tag: str) -> list[str]:
    """The workflow's docker/build-push-action step as a `docker buildx build` command for one
    platform, loaded into this engine as `tag`."""
    import yaml

    steps = yaml.safe_load(RELEASE.read_text())["jobs"]["image"]["steps"]
    (step,) = [s for s in steps if s.get("uses", "").startswith("docker/build-push-action@")]
    inputs = step["with"]
    unknown = set(inputs) - NOT_THE_IMAGE - set(FLAGS) - {"context", "platforms"}
    assert not unknown, f"release.yml's build has inputs this test does not translate: {unknown}"
    assert platform in inputs["platforms"].split(","), inputs["platforms"]
    args = ["buildx", "build", "--platform", platform]
    for name, flag in FLAGS.items():
        for value in str(inputs.get(name, "")).splitlines():
            args += [flag, value.strip().replace("${{ github.sha }}", COMMIT)]
    # Here: into this engine, and the proxy's CA bundle, as make passes it (a secret, which
    # changes no layer).
    args += ["--load", "-t", tag]
    if ca := extra_ca_bundle():
        args += ["--secret", f"id=extra_ca,src={ca}"]
    return [*args, inputs["context"]]


def make_prod_build(tag: str) -> None:
    """What `make prod-build` runs (scripts/prod-build, for this machine's platform), tagging
    `tag` instead of berth:prod (a name that belongs to the developer, not to the tests)."""
    (line,) = run(["make", "-n", "prod-build"], cwd=ROOT).stdout.splitlines()
    assert line.endswith("scripts/prod-build"), line
    env = {"PROD_IMAGE": tag, "GIT_COMMIT": COMMIT, "PLATFORMS": ""}
    run([ROOT / "scripts" / "prod-build"], cwd=ROOT, env=env, timeout=900)


def image(tag: str) -> dict:
    info = json.loads(docker("image", "inspect", tag).stdout)[0]
    history = docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout
    return {
        "platform": (info["Os"], info["Architecture"], info.get("Variant")),
        "config": info["Config"],
        "history": history.splitlines(),
        "layers": info["RootFS"]["Layers"],
    }


def test_the_release_build_is_make_prod_build_for_amd64(docker_engine):
    release, make, control = (unique(f"berth-test:{n}") for n in ("release", "make", "other"))
    try:
        docker(*release_build("linux/amd64", release), cwd=ROOT, timeout=900)
        make_prod_build(make)
        built, made = image(release), image(make)
        assert built["platform"] == ("linux", "amd64", None)
        for key in ("platform", "config", "history", "layers"):
            assert built[key] == made[key], key
        # The control: one build argument more, and the comparison tells.
        other = [*release_build("linux/amd64", control)]
        other[-1:-1] = ["--build-arg", "UID=10002"]
        docker(*other, cwd=ROOT, timeout=900)
        changed = image(control)
        assert changed["layers"] != made["layers"]
        assert changed["config"]["User"] != made["config"]["User"]
    finally:
        docker("image", "rm", "-f", release, make, control, check=False)
