"""The Kubernetes manifests (deploy/k8s): they render, validate strictly for three Kubernetes
versions, pass the policy a reviewer would check, agree with the prod image as built, and the
image really runs and answers its probes when started the way the pod spec says.

No cluster runs here. These tests live under tests/docker because they need host tools that the
dev container lacks (the Docker engine; kubectl and kubernetes-validate from
tools/requirements.txt): the `docker` marker keeps them out of plain `pytest`, scripts/test selects
them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import shutil
import time

import pytest

from app.config import METRICS_PORT
from tools.harness.commands import describe
from tools.harness.dap import DapClient, initialize_arguments
from tools.harness.docker import docker, logged_errors
from tools.harness.kube import (
    K8S,
    SERVING,
    all_containers,
    container_port,
    docker_run_args,
    effective_command,
    http_probe,
    kustomizations,
    mounts,
    named,
    pod_env,
    pod_specs,
    policy_violations,
    render,
    render_with_components,
    run_as_pod,
    schema_errors,
    secret_key,
    security,
    under,
    until_probe_succeeds,
)
from tools.harness.mariadb import mariadb, network
from tools.harness.net import wait_for_http

OVERLAYS = kustomizations("overlays")
COMPONENTS = kustomizations("components")
# Each overlay alone, and with every optional component switched on.
VARIANTS = [*OVERLAYS, *(f"{o}+{'+'.join(COMPONENTS)}" for o in OVERLAYS if COMPONENTS)]
# deploy/k8s/dev, for dev loops against a cluster: rendered and validated like the overlays,
# but it relaxes the policy on purpose (see test_dev_relaxes_only_what_debugging_needs).
DEV = "dev"
# The oldest Kubernetes the manifests support (the preStop `sleep` action is on by default from
# 1.30), one in the middle, and the newest whose schemas kubernetes-validate ships.
VERSIONS = ("1.30.0", "1.34.0", "1.37.0")
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")
# Secrets are created in the cluster, never committed: values for the ones the manifests name.
# Secrets for rendering; the scaled overlay's pods run against a real MariaDB (`pod_database`).
SECRETS = {"berth-database": {"password": "unused-p@ss"}}
# The password of the scaled overlay's MariaDB: one that a URL would have to encode.
DATABASE_PASSWORD = "p@ss:w/rd%1 'k8s'"  # noqa: S105


def render_variant(variant: str, workdir) -> list[dict]:
    if variant == DEV:
        return render(K8S / DEV)
    overlay, *components = variant.split("+")
    if not components:
        return render(K8S / "overlays" / overlay)
    paths = [K8S / "components" / c for c in components]
    return render_with_components(workdir, K8S / "overlays" / overlay, paths)


@pytest.fixture(scope="module")
def image_config(prod_image) -> dict:
    return json.loads(docker("image", "inspect", "--format", "{{json .Config}}", prod_image).stdout)


@pytest.fixture(scope="module")
def healthcheck_program(prod_image, image_config) -> str:
    """The text of the program the image's own HEALTHCHECK runs."""
    test = image_config["Healthcheck"]["Test"]
    assert test[0] == "CMD", f"expected an exec-form HEALTHCHECK, got {test}"
    return docker(
        "run", "--rm", "--network", "none", "--entrypoint", "sh", prod_image,
        "-c", f'cat "$(command -v {test[1]})"',
    ).stdout  # fmt: skip


def serving(objects: list[dict]):
    """(workload, pod spec, container) for every long-running container."""
    for workload, pod in pod_specs(objects):
        if workload["kind"] in SERVING:
            for container in pod["containers"]:
                yield workload, pod, container


def scaled_config() -> dict[str, str]:
    """The settings the scaled overlay's web pods get from its ConfigMap."""
    objects = render(K8S / "overlays" / "scaled")
    [(_, _, container)] = list(serving(objects))
    return pod_env(container, objects, SECRETS)


@pytest.fixture(scope="module")
def database(docker_engine):
    """The server the scaled overlay names: on a network where it answers to the overlay's
    DATABASE_HOST, as cluster DNS would, with the password the pods read from the Secret."""
    host = scaled_config()["DATABASE_HOST"]
    with network() as net, mariadb(net, password=DATABASE_PASSWORD, aliases=(host,)) as db:
        yield db


def pod_database(overlay: str, request) -> tuple[dict, str | None]:
    """(secrets, Docker network) for running an overlay's pods: the scaled overlay's pods
    reach a MariaDB server on a network they join, with the password of the Secret."""
    if overlay != "scaled":
        return SECRETS, None
    db = request.getfixturevalue("database")
    return {"berth-database": {"password": db.password}}, db.network


def assert_no_secret_shows(name: str, secrets: dict) -> None:
    """No value of a Secret in the container's configuration (docker inspect), its process
    environment or its log."""
    shown = docker("inspect", name).stdout + docker("exec", name, "cat", "/proc/1/environ").stdout
    logs = docker("logs", name)
    for values in secrets.values():
        for value in values.values():
            assert value not in shown, f"{name}: a Secret's value in its configuration"
            assert value not in logs.stdout + logs.stderr, f"{name}: a Secret's value in its log"


def holds_a_mount(folder: str, paths: list[str]) -> bool:
    """Whether one of the mount points `paths` is `folder` or below it."""
    return any(under(path, [folder]) for path in paths)


def seconds(nanoseconds: int) -> float:
    return nanoseconds / 1e9


# -- rendering --------------------------------------------------------------------------------


def test_there_are_overlays_to_check():
    assert {"single", "scaled"} <= set(OVERLAYS), OVERLAYS
    assert {"ingress", "servicemonitor"} <= set(COMPONENTS), COMPONENTS


@pytest.mark.parametrize("variant", [*VARIANTS, DEV])
def test_renders(variant, tmp_path):
    objects = render_variant(variant, tmp_path)
    kinds = [obj["kind"] for obj in objects]
    assert kinds.count("Deployment") == 1, kinds
    [deployment] = named(objects, "Deployment")
    [service] = named(objects, "Service")
    # The Service selects the web pods, and its target port is one they expose.
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    [web] = deployment["spec"]["template"]["spec"]["containers"]
    for port in service["spec"]["ports"]:
        container_port(web, port["targetPort"])
    # The ConfigMap the pods read is the generated one (its name carries the hash).
    [config] = named(objects, "ConfigMap")
    refs = {e["configMapRef"]["name"] for e in web.get("envFrom", []) if "configMapRef" in e}
    assert refs == {config["metadata"]["name"]}
    for ingress in named(objects, "Ingress"):
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                assert backend["name"] == service["metadata"]["name"]
                names = {p["name"] for p in service["spec"]["ports"]}
                assert backend["port"].get("name") in names, backend
                assert backend["port"]["name"] != "metrics", "the metrics are not for the internet"
    # The metrics port is named in the pods and the Service alike.
    [metrics] = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
    assert container_port(web, metrics["targetPort"]) == container_port(web, "metrics")
    for monitor in named(objects, "ServiceMonitor"):
        # It selects the Service (by its labels) and scrapes the Service's metrics port.
        selector = monitor["spec"]["selector"]["matchLabels"]
        assert selector.items() <= service["metadata"]["labels"].items(), selector
        assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]


def test_single_is_one_pod_on_a_claim():
    objects = render(K8S / "overlays" / "single")
    [deployment] = named(objects, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}, "two pods must never share the SQLite file"
    pod = spec["template"]["spec"]
    [web] = pod["containers"]
    data = mounts(pod, web)["/data"]
    assert set(data) == {"name", "persistentVolumeClaim"}, data
    [claim] = named(objects, "PersistentVolumeClaim", data["persistentVolumeClaim"]["claimName"])
    assert set(claim["spec"]["accessModes"]) <= {"ReadWriteOnce", "ReadWriteOncePod"}


def test_scaled_has_replicas_a_budget_an_autoscaler_and_a_migration():
    objects = render(K8S / "overlays" / "scaled")
    [deployment] = named(objects, "Deployment")
    assert "replicas" not in deployment["spec"], "the autoscaler owns the replica count"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [hpa] = named(objects, "HorizontalPodAutoscaler")
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert hpa["spec"]["minReplicas"] >= 2
    [pdb] = named(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]
    [job] = named(objects, "Job")
    job_pod = job["spec"]["template"]["spec"]
    assert job_pod["restartPolicy"] == "Never"
    job_labels = job["spec"]["template"]["metadata"]["labels"]
    assert not pdb["spec"]["selector"]["matchLabels"].items() <= job_labels.items()
    [web] = deployment["spec"]["template"]["spec"]["containers"]
    [migrate] = job_pod["containers"]
    assert migrate["image"] == web["image"], "the Job must migrate with the image it serves"
    # The image's documented migration step (test_prod_database.py runs it against MariaDB).
    assert migrate["command"] == ["python", "-m", "prod", "migrate"]
    for pod, container in ((deployment["spec"]["template"]["spec"], web), (job_pod, migrate)):
        env = pod_env(container, objects, SECRETS)
        assert env["DATABASE_HOST"], "a server for several pods"
        # The password is the Secret's, as a file in a read-only mount.
        assert secret_key(pod, container, env["DATABASE_PASSWORD_FILE"]) == (
            "berth-database",
            "password",
        )
        [mount] = [m for m in container["volumeMounts"] if m["name"] == "database-password"]
        assert mount["readOnly"] is True
    assert not named(objects, "Secret"), "no Secret belongs in the repository"


def test_scaled_keeps_the_password_out_of_the_environment():
    """No variable of any pod carries the password: none names a Secret (valueFrom, envFrom),
    and none holds the Secret's value once resolved."""
    objects = render(K8S / "overlays" / "scaled")
    password = SECRETS["berth-database"]["password"]
    for workload, pod in pod_specs(objects):
        for container in all_containers(pod):
            where = f"{workload['kind']}/{workload['metadata']['name']} {container['name']}"
            for item in container.get("env", []):
                assert "secretKeyRef" not in item.get("valueFrom", {}), (where, item)
            for item in container.get("envFrom", []):
                assert "secretRef" not in item, (where, item)
            env = pod_env(container, objects, SECRETS)
            assert not [k for k, v in env.items() if password in v], where
            assert secret_key(pod, container, env["DATABASE_PASSWORD_FILE"]), where


# -- schemas --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("variant", [*VARIANTS, DEV])
def test_validates_strictly(variant, version, tmp_path):
    objects = render_variant(variant, tmp_path)
    errors = [e for obj in objects if (e := schema_errors(obj, version))]
    assert errors == []


def test_strict_validation_rejects_a_broken_copy(tmp_path):
    copy_ = tmp_path / "k8s"
    shutil.copytree(K8S, copy_)
    deployment = copy_ / "base" / "deployment.yaml"
    text = deployment.read_text()
    # The classic typo: it silently turns the read-only root off on a cluster.
    assert "readOnlyRootFilesystem: true" in text
    deployment.write_text(
        text.replace("readOnlyRootFilesystem: true", "readOnlyRootFileSystem: true")
    )
    [broken] = named(render(copy_ / "overlays" / "single"), "Deployment")
    for version in VERSIONS:
        error = schema_errors(broken, version)
        assert "readOnlyRootFileSystem" in (error or ""), (version, error)
    # Non-strict validation would have let it through: strictness is what catches it.
    import kubernetes_validate

    assert kubernetes_validate.validate(broken, VERSIONS[0], strict=False)
    # An apiVersion that does not exist fails too (the library's CLI only warns about it).
    wrong = copy.deepcopy(broken) | {"apiVersion": "apps/v2"}
    assert "apps/v2" in (schema_errors(wrong, VERSIONS[0]) or "")


def test_strict_validation_rejects_a_broken_service_monitor(tmp_path):
    """The ServiceMonitor's check (tools/harness/kube.py: the fields the component may use, not
    the operator's CRD schema) is strict too: typos, a bad duration, a bad selector fail."""
    objects = render_variant(f"single+{'+'.join(COMPONENTS)}", tmp_path)
    [monitor] = named(objects, "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    breakages = {
        "scrapeTimout": lambda m: m["spec"]["endpoints"][0].update(scrapeTimout="10s"),
        "interval": lambda m: m["spec"]["endpoints"][0].update(interval="30 seconds"),
        "matchLabel": lambda m: m["spec"]["selector"].update(matchLabel={"a": "b"}),
        "lables": lambda m: m["metadata"].update(lables={"a": "b"}),
        "endpoints": lambda m: m["spec"].pop("endpoints"),
        "v2": lambda m: m.update(apiVersion="monitoring.coreos.com/v2"),
    }
    for version in VERSIONS:
        assert schema_errors(monitor, version) is None
        for fragment, breaking in breakages.items():
            broken = copy.deepcopy(monitor)
            breaking(broken)
            assert fragment in (schema_errors(broken, version) or ""), (fragment, version)
    assert endpoint == monitor["spec"]["endpoints"][0], "the copies were broken, not the original"


# -- policy --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_policy_holds(variant, tmp_path):
    assert policy_violations(render_variant(variant, tmp_path)) == []


def test_policy_finds_what_a_reviewer_would():
    objects = render(K8S / "overlays" / "scaled")
    [deployment] = named(objects, "Deployment")
    [job] = named(objects, "Job")
    pod = deployment["spec"]["template"]["spec"]
    web = pod["containers"][0]
    web["image"] = web["image"].rsplit(":", 1)[0] + ":latest"
    web["securityContext"] |= {"privileged": True, "allowPrivilegeEscalation": True}
    web["securityContext"]["capabilities"]["add"] = ["NET_ADMIN"]
    del web["resources"]["limits"]
    del web["livenessProbe"]
    pod["hostNetwork"] = True
    pod["volumes"].append({"name": "host", "hostPath": {"path": "/"}})
    job_pod = job["spec"]["template"]["spec"]
    job_pod["containers"][0]["image"] = "berth"
    job_pod["securityContext"]["runAsNonRoot"] = False
    found = "\n".join(policy_violations(objects))
    for expected in (
        "Deployment/berth container berth: image registry.example.com/berth:latest is not pinned",
        "Deployment/berth container berth: privileged",
        "Deployment/berth container berth: allowPrivilegeEscalation is not false",
        "Deployment/berth container berth: adds capabilities ['NET_ADMIN']",
        "Deployment/berth container berth: no cpu in resources.limits",
        "Deployment/berth container berth: no memory in resources.limits",
        "Deployment/berth container berth: no livenessProbe",
        "Deployment/berth: hostNetwork is true",
        "Deployment/berth: volume host is a hostPath",
        "Job/berth-migrate container migrate: image berth is not pinned",
        "Job/berth-migrate container migrate: runAsNonRoot is not true",
    ):
        assert expected in found, f"{expected!r} not among:\n{found}"


# -- the manifests and the image -------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_manifests_agree_with_the_image(overlay, prod_image, image_config, healthcheck_program):
    objects = render(K8S / "overlays" / overlay)
    uid, _, gid = image_config["User"].partition(":")
    assert uid.isdigit(), f"runAsNonRoot cannot check the image's named USER {uid!r}"
    image_env = dict(item.split("=", 1) for item in image_config["Env"])
    health = image_config["Healthcheck"]
    # The loopback URL it asks, port given as a number or an f-string field.
    url = r"127\.0\.0\.1:(?:\d+|\{[^}]*\})(/[\w./-]*)"
    checked_paths = set(re.findall(url, healthcheck_program))
    assert checked_paths, "no URL path found in the image's healthcheck program"
    # What the image's check gives the app to answer (the HEALTHCHECK timeout bounds the whole
    # check, a Python's start included, which a kubelet's HTTP probe does not pay).
    answer_timeout = re.search(r"^TIMEOUT_SECONDS = (\d+)", healthcheck_program, re.MULTILINE)
    assert answer_timeout, "the healthcheck program names no TIMEOUT_SECONDS"
    assert int(answer_timeout[1]) < seconds(health["Timeout"]), "the check is cut short"
    for workload, pod in pod_specs(objects):
        for container in all_containers(pod):
            where = f"{workload['kind']}/{workload['metadata']['name']} {container['name']}"
            assert str(security(pod, container, "runAsUser")) == uid, where
            assert str(security(pod, container, "runAsGroup")) == (gid or uid), where
            env = image_env | pod_env(container, objects, SECRETS)
            # Every path the app writes: the image's volumes and its data folder are mounted.
            mounted = list(mounts(pod, container))
            for path in [*(image_config.get("Volumes") or {}), env["DATA_DIR"]]:
                assert under(path, mounted), f"{where}: {path} is not on a volume ({mounted})"
            command = effective_command(container, image_config)
            if workload["kind"] not in SERVING:
                # A run-to-completion container runs a program the image has.
                found = docker(
                    "run", "--rm", "--network", "none", "--entrypoint", "sh", prod_image,
                    "-c", f"command -v {command[0]}", check=False,
                )  # fmt: skip
                assert found.returncode == 0, f"{where}: {command[0]} is not in the image"
                continue
            assert command == [*(image_config.get("Entrypoint") or []), *image_config["Cmd"]]
            exposed = {int(p.split("/")[0]) for p in image_config["ExposedPorts"]}
            assert {p["containerPort"] for p in container["ports"]} == exposed, where
            assert int(env["PORT"]) in exposed, f"{where}: the server listens on {env['PORT']}"
            metrics = METRICS_PORT.get(env)
            assert container_port(container, "metrics") == metrics, f"{where}: metrics on {metrics}"
            for name in PROBES:
                probe = container[name]
                assert container_port(container, probe["httpGet"]["port"]) == int(env["PORT"])
                assert probe["httpGet"]["path"] in checked_paths, (name, checked_paths)
                # Give the app at least the time the image's HEALTHCHECK gives it.
                assert probe["timeoutSeconds"] >= int(answer_timeout[1]), name
            startup = container["startupProbe"]
            budget = startup.get("initialDelaySeconds", 0)
            budget += startup["periodSeconds"] * startup["failureThreshold"]
            assert budget >= seconds(health["StartPeriod"]), "less start-up time than the image's"
            live = container["livenessProbe"]
            patience = live["periodSeconds"] * live["failureThreshold"]
            assert patience >= seconds(health["Interval"]) * health["Retries"]
            # SIGTERM comes after preStop; gunicorn then needs its graceful timeout, read by
            # gunicorn itself from the image's config, run as the pod (its environment, and
            # its volumes: the settings check reads the password file).
            with contextlib.ExitStack() as volumes:
                args = docker_run_args(pod, container, prod_image, env, volumes, SECRETS)
                config = docker("run", "--rm", *args, prod_image, *command, "--print-config").stdout
            graceful = int(re.search(r"^graceful_timeout\s*=\s*(\d+)", config, re.M)[1])
            pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
            grace = pod["terminationGracePeriodSeconds"]
            assert grace >= pre_stop + graceful + 1, (grace, pre_stop, graceful)
            assert grace <= pre_stop + graceful + 10, "a stuck pod would linger for nothing"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_path_the_app_writes_is_a_volume(overlay, prod_image, request):
    """With a writable root, `docker diff` lists what the app wrote outside its mounts."""
    objects = render(K8S / "overlays" / overlay)
    secrets, net = pod_database(overlay, request)
    for _, pod, container in serving(objects):
        writable = copy.deepcopy(container)
        writable["securityContext"]["readOnlyRootFilesystem"] = False
        env = pod_env(container, objects, secrets)
        with run_as_pod(prod_image, pod, writable, env, net, secrets) as started:
            until_probe_succeeds(container["startupProbe"], container, started)
            port = container_port(container, "http")
            assert started.ask("POST", port, "/api/notes", {"title": "diff"}).status == 201
            assert started.ask("GET", port, "/api/notes").status == 200
            changed = docker("diff", started.name).stdout.split("\n")
        written = [line.split(" ", 1)[1] for line in changed if line[:1] in ("A", "C")]
        mounted = list(mounts(pod, container))
        # The runtime makes the folders a mount point needs (/run/secrets for a Secret).
        outside = [p for p in written if not under(p, mounted) and not holds_a_mount(p, mounted)]
        assert outside == [], f"written outside the pod's volumes: {outside}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_image_runs_as_the_pod_spec_says(overlay, prod_image, request):
    objects = render(K8S / "overlays" / overlay)
    secrets, net = pod_database(overlay, request)
    for _, pod, container in serving(objects):
        env = pod_env(container, objects, secrets)
        with run_as_pod(prod_image, pod, container, env, net, secrets) as started:
            # The kubelet's order: the startup probe until it passes, then the others.
            answer, attempts = until_probe_succeeds(container["startupProbe"], container, started)
            assert answer.seconds < container["startupProbe"]["timeoutSeconds"]
            for name in PROBES:
                for _ in range(3):
                    answer = http_probe(container[name], container, started.ports)
                    assert answer.ok, (name, answer)
                    assert answer.seconds < container[name]["timeoutSeconds"], (name, answer)
            # It writes where the pod gives it room (the claim or the emptyDir on /data).
            port = container_port(container, "http")
            created = started.ask("POST", port, "/api/notes", {"title": "from the pod spec"})
            assert created.status == 201, created.body
            # Its metrics are on the named port (the multiprocess folder on the /tmp emptyDir),
            # not on the app's.
            metrics = started.ask("GET", container_port(container, "metrics"), "/metrics")
            assert metrics.status == 200, metrics.body
            assert b'route="/api/notes",status="201"} 1.0' in metrics.body, metrics.body[-2000:]
            assert started.ask("GET", port, "/metrics").status == 404
            # The process has the identity and the restrictions the spec asks for.
            status = dict(
                line.split(":\t", 1)
                for line in docker(
                    "exec", started.name, "cat", "/proc/1/status"
                ).stdout.splitlines()
                if ":\t" in line
            )
            uid = str(security(pod, container, "runAsUser"))
            gid = str(security(pod, container, "runAsGroup"))
            assert status["Uid"].split("\t")[0] == uid
            assert status["Gid"].split("\t")[0] == gid
            assert str(pod["securityContext"]["fsGroup"]) in status["Groups"].split()
            assert status["CapEff"] == "0000000000000000"
            assert status["NoNewPrivs"] == "1"
            assert status["Seccomp"] == "2", "no seccomp filter"
            touch = docker("exec", started.name, "touch", "/app/x", check=False)
            assert "Read-only file system" in touch.stderr
            assert_no_secret_shows(started.name, secrets)
            # Stop as the kubelet does after preStop: SIGTERM, then SIGKILL when the rest of
            # the grace period is over. A clean exit well within it.
            left = (
                pod["terminationGracePeriodSeconds"]
                - container["lifecycle"]["preStop"]["sleep"]["seconds"]
            )
            start = time.monotonic()
            docker("stop", "--time", str(left), started.name, timeout=left + 30)
            took = time.monotonic() - start
            state = json.loads(
                docker("inspect", "--format", "{{json .State}}", started.name).stdout
            )
            logs = docker("logs", started.name)
            errors = logged_errors(started.name)
        assert state["ExitCode"] == 0, state
        assert not state["OOMKilled"], state
        assert took < left, f"gunicorn took {took:.1f} s of the {left} s left after preStop"
        assert "Traceback" not in logs.stdout + logs.stderr, describe(logs)
        assert errors == [], describe(logs)
        assert attempts <= container["startupProbe"]["failureThreshold"]


def test_docker_flags_follow_the_spec(prod_image):
    """The translation itself: a spec without the hardening gives a container without it, so
    the run test above really depends on the manifests (no flags hard-coded)."""
    objects = render(K8S / "overlays" / "single")
    [(_, pod, container)] = list(serving(objects))
    loose_pod = copy.deepcopy(pod)
    loose_pod["securityContext"].pop("fsGroup")
    loose = copy.deepcopy(container)
    loose["securityContext"] = {}
    with contextlib.ExitStack() as volumes:
        args = docker_run_args(loose_pod, loose, prod_image, {}, volumes)
        hardened = docker_run_args(pod, container, prod_image, {}, volumes)
    for flag in ("--read-only", "--cap-drop", "no-new-privileges", "--group-add"):
        assert flag in hardened
        assert flag not in args


def test_a_claim_without_fs_group_is_not_writable(prod_image):
    """The PVC emulation is faithful: a new volume is root's, so without the pod's fsGroup the
    app cannot write /data and stops at start, naming DATA_DIR."""
    objects = render(K8S / "overlays" / "single")
    [(_, pod, container)] = list(serving(objects))
    loose_pod = copy.deepcopy(pod)
    loose_pod["securityContext"].pop("fsGroup")
    env = pod_env(container, objects, SECRETS)
    with run_as_pod(prod_image, loose_pod, container, env) as started:
        # The app gives up at once; `docker wait` returns its exit code (bounded in time).
        code = docker("wait", started.name, timeout=30).stdout.strip()
        logs = docker("logs", started.name)
        state = json.loads(docker("inspect", "--format", "{{json .State}}", started.name).stdout)
    assert state["Running"] is False, state
    assert code == str(state["ExitCode"]) != "0", state
    assert "DATA_DIR '/data' is not a writable folder" in logs.stdout + logs.stderr, describe(logs)


# -- the dev loop against a cluster ------------------------------------------------------------


def test_dev_relaxes_only_what_debugging_needs():
    assert sorted(policy_violations(render(K8S / DEV))) == [
        "Deployment/berth container berth: no livenessProbe",
        "Deployment/berth container berth: readOnlyRootFilesystem is not true",
    ]


def test_dev_pod_serves_reloads_synced_code_and_debugs(dev_image):
    """The dev image run as deploy/k8s/dev's pod spec says: probes pass, a file written into
    /app as the container's user (what Skaffold, Tilt and DevSpace sync does) is served after
    the reload, and debugpy answers a debugger's first request on its port."""
    objects = render(K8S / DEV)
    [(_, pod, container)] = list(serving(objects))
    # The image starts as root only to adopt a bind mount's owner; a pod runs as its dev user.
    user = docker("run", "--rm", "--network", "none", "--entrypoint", "id", dev_image, "-u", "app")
    group = docker("run", "--rm", "--network", "none", "--entrypoint", "id", dev_image, "-g", "app")
    assert str(security(pod, container, "runAsUser")) == user.stdout.strip()
    assert str(security(pod, container, "runAsGroup")) == group.stdout.strip()
    env = pod_env(container, objects, SECRETS)
    with run_as_pod(dev_image, pod, container, env) as started:
        until_probe_succeeds(container["startupProbe"], container, started)
        answer = http_probe(container["readinessProbe"], container, started.ports)
        assert answer.ok, answer
        base = f"http://127.0.0.1:{started.ports[container_port(container, 'http')]}"
        marker = f"synced {time.time_ns()}"
        source = docker("exec", started.name, "cat", "/app/app/health.py").stdout
        assert "berth: a small JSON notes service" in source
        edited = source.replace("berth: a small JSON notes service", marker)
        docker("exec", "-i", started.name, "sh", "-c", "cat > /app/app/health.py", input=edited)
        wait_for_http(f"{base}/", timeout=20, body_contains=marker.encode())
        debugpy = started.ports[container_port(container, "debugpy")]
        client = DapClient.connect("127.0.0.1", debugpy, timeout=10)
        try:
            capabilities = client.request("initialize", **initialize_arguments())
        finally:
            client.close()
        assert capabilities.get("supportsConfigurationDoneRequest"), capabilities


def test_the_migration_job_migrates_as_its_pod_spec_says(prod_image, request):
    """The scaled overlay's Job, run as its pod spec says against MariaDB: exit 0, schema made."""
    objects = render(K8S / "overlays" / "scaled")
    secrets, net = pod_database("scaled", request)
    [job] = named(objects, "Job")
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    env = pod_env(container, objects, secrets)
    with run_as_pod(prod_image, pod, container, env, net, secrets) as started:
        code = docker("wait", started.name, timeout=120).stdout.strip()
        logs = docker("logs", started.name)
        shown = docker("inspect", started.name).stdout
    assert code == "0", describe(logs)
    assert "berth: database at the newest revision" in logs.stdout, describe(logs)
    db = request.getfixturevalue("database")
    assert db.sql("SHOW TABLES").split() == ["alembic_version", "notes"]
    assert db.password not in logs.stdout + logs.stderr + shown
    server_logs = docker("logs", db.name)
    assert db.password not in server_logs.stdout + server_logs.stderr
