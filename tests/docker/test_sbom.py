"""make sbom: a CycloneDX JSON of the prod image's Python packages that lists exactly what the
image's venv holds, at the image's versions, with the hashes requirements.txt accepts for each
and the licence each declares; made without changing the image (scripts/sbom)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tools.harness.commands import describe, host_tool, run
from tools.harness.docker import docker
from tools.harness.project import ROOT, copy_project

# What the venv holds, asked of the image's own Python: name, version, whether it declares a
# licence (an SPDX expression, the License field, or a licence classifier).
LIST_VENV = """
import importlib.metadata as metadata, json, sysconfig
paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
found = {}
for dist in metadata.distributions(path=paths):
    meta = dist.metadata
    declared = bool(meta.get("License-Expression") or (meta.get("License") or "").strip()
                    or any(c.startswith("License ::") for c in meta.get_all("Classifier") or []))
    found[meta["Name"]] = {"version": dist.version, "licence": declared}
print(json.dumps(found))
"""


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_hashes(requirements: str) -> dict[tuple[str, str], set[str]]:
    """(name, version) -> the sha256 hashes requirements.txt accepts for that pin."""
    pins: dict[tuple[str, str], set[str]] = {}
    for block in re.split(r"\n(?=[A-Za-z])", requirements):
        if m := re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block):
            pins[normal(m[1]), m[2]] = set(re.findall(r"--hash=sha256:([0-9a-f]{64})", block))
    return pins


def sbom(image: str, out: Path, project: Path = ROOT):
    return run([project / "scripts" / "sbom", image, out], cwd=project, timeout=900, check=False)


def test_the_sbom_lists_exactly_the_venv_of_the_image(prod_image, tmp_path):
    out = tmp_path / "sbom.cdx.json"
    result = sbom(prod_image, out)
    assert result.returncode == 0, describe(result)
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["metadata"]["component"]["name"] == "berth"

    listing = docker("run", "--rm", "--entrypoint", "python", prod_image, "-c", LIST_VENV)
    venv = json.loads(listing.stdout)
    components = {c["name"]: c for c in bom["components"]}
    assert {(n, c["version"]) for n, c in components.items()} == {
        (n, d["version"]) for n, d in venv.items()
    }
    assert "gunicorn" in components
    assert "pip" not in components

    pins = pinned_hashes((ROOT / "requirements.txt").read_text())
    for name, component in components.items():
        refs = [r for r in component.get("externalReferences", []) if r.get("hashes")]
        assert [r["type"] for r in refs] == ["distribution"], name
        hashes = {h["content"] for h in refs[0]["hashes"] if h["alg"] == "SHA-256"}
        assert hashes == pins[normal(name), component["version"]], name
        # The package URL spec's PyPI names: lower case, `_` as `-` (dots stay).
        purl_name = name.lower().replace("_", "-")
        assert component["purl"] == f"pkg:pypi/{purl_name}@{component['version']}"
    declared = {name for name, d in venv.items() if d["licence"]}
    assert declared, "no package of the venv declares a licence: the check below checks nothing"
    assert {name for name in declared if not components[name].get("licenses")} == set()


def test_an_image_built_from_other_pins_is_one_line(prod_image, tmp_path):
    """The hashes come from the checkout's requirements.txt: an image whose versions it does
    not pin gets no SBOM with wrong hashes, but a line that says so."""
    project = copy_project(tmp_path / "project")
    pins = project / "requirements.txt"
    text, edits = re.subn(r"^flask==\S+", "flask==3.0.0", pins.read_text(), flags=re.M)
    assert edits == 1
    pins.write_text(text)
    result = sbom(prod_image, tmp_path / "sbom.cdx.json", project)
    assert result.returncode != 0
    assert re.search(
        r"^scripts/sbom: the image has packages that requirements.txt does not pin: Flask==\S+; "
        r"rebuild the image from this checkout \(make prod-build\)$",
        result.stderr,
        re.M,
    ), describe(result)
    assert not (tmp_path / "sbom.cdx.json").exists()


def test_the_sbom_dockerfile_passes_hadolint():
    dockerfile = ROOT / "docker" / "sbom.Dockerfile"
    result = run([host_tool("hadolint"), "--no-color", dockerfile], check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_make_sbom_builds_the_prod_image_then_describes_it():
    recipe = run(["make", "-n", "sbom"], cwd=ROOT).stdout.splitlines()
    assert recipe[0] == "PROD_IMAGE=berth:prod scripts/prod-build"
    assert recipe[-1] == "scripts/sbom berth:prod sbom.cdx.json"
