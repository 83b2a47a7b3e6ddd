"""How the images install their pins: uv from a build-only stage (prod ends up with neither uv
nor pip), and an install step that, behind a TLS-intercepting proxy without EXTRA_CA_BUNDLE,
fails at once with one line that names the setting, for uv as for pip.

The proxy is a local stand-in (tools/harness/tls.py) that builds reach with `--network host`,
so these tests behave the same on any machine, behind a real proxy or not.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest

from tools.harness.commands import describe, unique
from tools.harness.docker import build, cold_build_caches, docker, try_build
from tools.harness.project import ROOT, copy_project
from tools.harness.tls import InterceptingProxy, intercepting_proxy

NO_CA = ROOT / "docker" / "no-extra-ca.pem"  # the empty placeholder: "EXTRA_CA_BUNDLE unset"
README_SECTION = "Behind a company proxy or mirror"
# What a failed install step may take, with every other step cached: seconds, not retries.
FAIL_FAST_SECONDS = 30


@pytest.fixture
def proxy(tmp_path) -> Iterator[InterceptingProxy]:
    with intercepting_proxy(tmp_path) as running:
        yield running


@pytest.fixture
def tags() -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    if made:
        docker("image", "rm", "-f", *made, check=False)


def behind(proxy: InterceptingProxy) -> list[str]:
    """Build options for a build behind the proxy, with no extra CA bundle."""
    return [
        "--network",
        "host",
        "--build-arg",
        f"HTTPS_PROXY={proxy.url}",
        "--secret",
        f"id=extra_ca,src={NO_CA}",
    ]


def explained(result) -> str:
    """The one line the install step printed, after checking the build failed with it."""
    output = result.stdout + result.stderr
    assert result.returncode != 0, describe(result)
    said = re.findall(r"^#\d+ [\d.]+ (pin-install: .*)$", output, re.MULTILINE)
    assert len(said) == 1, output[-4000:]
    line = said[0]
    assert "is not trusted" in line, line
    assert "set EXTRA_CA_BUNDLE" in line, line
    assert README_SECTION in line, line
    assert "Traceback" not in output, output[-4000:]
    return line


def test_pip_step_behind_an_intercepting_proxy_fails_fast_with_one_line(
    docker_engine, proxy, tags, tmp_path
):
    """The uv stage installs uv with pip, which would retry five times; it asks once."""
    tags.append(unique("berth-test:proxy-pip"))
    start = time.monotonic()
    result = try_build(ROOT, "uv", tags[-1], *behind(proxy), "--no-cache-filter", "uv")
    seconds = time.monotonic() - start
    line = explained(result)
    print(f"pip behind the proxy: failed after {seconds:.1f} s: {line}")
    assert "Retrying" not in result.stdout + result.stderr
    assert len(proxy.connects) == 1, proxy.connects
    assert seconds < FAIL_FAST_SECONDS


def test_uv_step_behind_an_intercepting_proxy_fails_fast_with_one_line(
    docker_engine, proxy, tags, tmp_path
):
    project = copy_project(tmp_path / "project")
    cold_build_caches(project)  # so that uv must download, as on a new machine
    tags.append(unique("berth-test:proxy-uv"))
    build(project, "uv", tags[-1], "--network", "host")  # the installer, on the real network
    tags.append(unique("berth-test:proxy-deps"))
    start = time.monotonic()
    result = try_build(project, "deps", tags[-1], *behind(proxy))
    seconds = time.monotonic() - start
    line = explained(result)
    print(f"uv behind the proxy: failed after {seconds:.1f} s: {line}")
    # uv's own multi-line chain of causes is folded into that line.
    assert "cause:" not in result.stdout + result.stderr
    pinned = len(re.findall(r"^\S+==", (project / "requirements.txt").read_text(), re.MULTILINE))
    assert 1 <= len(proxy.connects) <= pinned, proxy.connects  # no retries
    assert seconds < FAIL_FAST_SECONDS


def _venv_report(image: str) -> dict:
    script = (
        "import glob, importlib.util, json, os, shutil; print(json.dumps({"
        "'programs': [p for p in ('uv', 'pin-install') if shutil.which(p)], "
        "'modules': [m for m in ('uv', 'pip') if importlib.util.find_spec(m)], "
        "'venv': sorted(os.listdir('/opt/venv')), "
        "'venv_bin': sorted(os.listdir('/opt/venv/bin')), "
        "'compiled': bool(glob.glob('/opt/venv/lib/python3*/site-packages/flask/__pycache__')),"
        "}))"
    )
    found = docker("run", "--rm", "--entrypoint", "python", image, "-c", script)
    return json.loads(found.stdout)


def test_prod_has_neither_uv_nor_pip_and_compiled_packages(prod_image):
    report = _venv_report(prod_image)
    assert report["programs"] == [], report
    assert report["modules"] == [], report  # (the base image's own pip is outside the venv)
    assert [p for p in report["venv_bin"] if p.startswith(("pip", "uv"))] == [], report
    assert "pins" not in report["venv"], report
    # Read-only at run time, so the bytecode has to come with the image (docs/benchmarks.md).
    assert report["compiled"], report


def test_dev_has_uv_pip_and_the_pins_it_was_built_from(dev_image):
    report = _venv_report(dev_image)
    assert report["programs"] == ["uv", "pin-install"], report
    assert report["modules"] == ["pip"], report  # uv is a program here, not a package
    assert "pip" in report["venv_bin"], report
    for name in ("requirements.txt", "requirements-dev.txt"):
        pinned = docker("run", "--rm", dev_image, "cat", f"/opt/venv/pins/{name}").stdout
        assert pinned == (ROOT / name).read_text(), name
