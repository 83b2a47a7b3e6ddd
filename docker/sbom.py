"""Join two CycloneDX documents that cyclonedx-py made into the SBOM `make sbom` writes
(docker/sbom.Dockerfile runs this in its throwaway stage):

    python sbom.py VENV_BOM PINS_BOM OUT

VENV_BOM (`cyclonedx-py environment`) lists what the image's venv really holds, with the
licences the packages declare; PINS_BOM (`cyclonedx-py requirements`) has the hashes that
requirements.txt accepts for each pin, as a `distribution` reference. Each installed package
gets its pin's reference; the result is checked against the CycloneDX schema. A package that
requirements.txt does not pin at that version means the image was built from other pins: that
is one line and exit 1, not an SBOM with wrong hashes.
"""

from __future__ import annotations

import json
import re
import sys

from cyclonedx.schema import OutputFormat, SchemaVersion
from cyclonedx.validation import make_schemabased_validator


def key(name: str, version: str) -> tuple[str, str]:
    # PEP 503 names: the venv says `zope.event`, requirements.txt says `zope-event`.
    return re.sub(r"[-_.]+", "-", name).lower(), version


def join(venv: dict, pins: dict) -> dict:
    distributions = {
        key(c["name"], c["version"]): ref
        for c in pins["components"]
        for ref in c.get("externalReferences", [])
        if ref["type"] == "distribution" and ref.get("hashes")
    }
    unpinned = []
    for component in venv.get("components", []):
        ref = distributions.get(key(component["name"], component["version"]))
        if ref is None:
            unpinned.append(f"{component['name']}=={component['version']}")
            continue
        component.setdefault("externalReferences", []).append(ref)
    if unpinned:
        raise SystemExit(
            "sbom: the image has packages that requirements.txt does not pin: "
            f"{', '.join(sorted(unpinned))}; rebuild the image from this checkout (make prod-build)"
        )
    return venv


def main(venv_path: str, pins_path: str, out_path: str) -> int:
    with open(venv_path) as venv_file, open(pins_path) as pins_file:
        bom = join(json.load(venv_file), json.load(pins_file))
    text = json.dumps(bom, indent=2, sort_keys=True) + "\n"
    version = SchemaVersion.from_version(bom["specVersion"])
    error = make_schemabased_validator(OutputFormat.JSON, version).validate_str(text)
    if error:
        raise SystemExit(f"sbom: the joined document is not valid CycloneDX: {error}")
    with open(out_path, "w") as out:
        out.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
