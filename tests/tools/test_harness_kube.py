"""The Kubernetes helpers' pure parts (tools/harness/kube.py): quantities, image references,
the command a container runs and the files of a Secret volume. No kubectl or Docker needed."""

import pytest

from tools.harness.kube import (
    effective_command,
    image_tag,
    quantity,
    secret_files,
    secret_key,
    under,
)

IMAGE = {"Entrypoint": None, "Cmd": ["gunicorn", "--config", "/app/prod/gunicorn.conf.py"]}


@pytest.mark.parametrize(
    ("text", "value"),
    [("192Mi", 192 * 2**20), ("1Gi", 2**30), ("1500m", 1.5), ("2", 2), ("250m", 0.25)],
)
def test_quantity(text, value):
    assert quantity(text) == pytest.approx(value)


def test_quantity_refuses_what_it_does_not_read():
    with pytest.raises(AssertionError, match="not a quantity"):
        quantity("1.5e3x")


@pytest.mark.parametrize(
    ("image", "tag"),
    [
        ("registry.example.com/berth:0.1.0", "0.1.0"),
        ("registry.example.com:5000/berth", None),
        ("berth", None),
        ("berth:latest", "latest"),
        ("berth@sha256:abc", "sha256:abc"),
    ],
)
def test_image_tag(image, tag):
    assert image_tag(image) == tag


def test_command_and_args_follow_kubernetes_rules():
    assert effective_command({}, IMAGE) == IMAGE["Cmd"]
    assert effective_command({"args": ["--version"]}, IMAGE) == ["--version"]
    assert effective_command({"command": ["flask"]}, IMAGE) == ["flask"]
    with_entrypoint = {"Entrypoint": ["tini", "--"], "Cmd": ["serve"]}
    assert effective_command({"args": ["x"]}, with_entrypoint) == ["tini", "--", "x"]


def test_under_means_the_path_or_below_it():
    assert under("/data", ["/data"])
    assert under("/data/notes.sqlite3", ["/tmp", "/data"])
    assert not under("/database", ["/data"])


SECRETS = {"db": {"password": "p", "user": "u"}}


def test_a_secret_volume_holds_every_key_or_the_items_it_lists():
    every = {"name": "v", "secret": {"secretName": "db"}}
    assert secret_files(every, SECRETS) == {"password": "p", "user": "u"}
    listed = {"secretName": "db", "items": [{"key": "password", "path": "pw/file"}]}
    assert secret_files({"name": "v", "secret": listed}, SECRETS) == {"pw/file": "p"}
    with pytest.raises(AssertionError, match="Secret 'other'"):
        secret_files({"name": "v", "secret": {"secretName": "other"}}, SECRETS)


def test_secret_key_names_the_key_a_mounted_file_holds():
    listed = {"secretName": "db", "items": [{"key": "password", "path": "pw"}]}
    pod = {
        "volumes": [
            {"name": "every", "secret": {"secretName": "db"}},
            {"name": "listed", "secret": listed},
            {"name": "tmp", "emptyDir": {}},
        ]
    }
    container = {
        "volumeMounts": [
            {"name": "every", "mountPath": "/run/secrets/db"},
            {"name": "listed", "mountPath": "/etc/db"},
            {"name": "tmp", "mountPath": "/tmp"},
        ]
    }
    assert secret_key(pod, container, "/run/secrets/db/user") == ("db", "user")
    assert secret_key(pod, container, "/etc/db/pw") == ("db", "password")
    assert secret_key(pod, container, "/etc/db/password") is None  # not an item's path
    assert secret_key(pod, container, "/tmp/pw") is None
    assert secret_key(pod, container, "/run/secrets") is None
