"""docker/pin-install.py on its own: the one line it makes of an installer's failure, and the CA
bundle it joins. The builds behind a stand-in proxy are in tests/docker/test_installer.py."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "pin-install.py"
README = (ROOT / "README.md").read_text()

# What uv 0.13 prints, verbatim.
UV_HASH_MISMATCH = """\
error: Failed to download `six==1.16.0`
  cause: Hash mismatch for `six==1.16.0`

         Expected:
           sha256:0000000000000000000000000000000000000000000000000000000000000000

         Computed:
           sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254
"""
UV_UNTRUSTED = """\
error: Failed to fetch: `https://pypi.org/simple/blinker/`
  cause: error sending request for url (https://pypi.org/simple/blinker/)
  cause: client error (Connect)
  cause: invalid peer certificate: UnknownIssuer
"""


@pytest.fixture(scope="module")
def pin_install():
    spec = importlib.util.spec_from_file_location("pin_install", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_hash_mismatch_is_one_line_with_both_hashes(pin_install):
    assert pin_install.summary(UV_HASH_MISMATCH.splitlines()) == (
        "Failed to download `six==1.16.0`: Hash mismatch for `six==1.16.0` "
        "(expected sha256:0000000000000000000000000000000000000000000000000000000000000000, "
        "computed sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254)"
    )
    assert pin_install.untrusted(pin_install.summary(UV_HASH_MISMATCH.splitlines())) is None


@pytest.mark.parametrize(
    "text",
    [
        UV_UNTRUSTED,
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: self-signed certificate in certificate chain (https://pypi.org/simple/six/)",
    ],
    ids=["uv", "pip"],
)
def test_an_untrusted_certificate_is_named_with_its_host(pin_install, text):
    problem = pin_install.untrusted(text)
    assert problem.startswith("the TLS certificate of https://pypi.org is not trusted ("), problem


def run_and_capture(pin_install, capsys, script: str) -> tuple[int, list[str]]:
    code = pin_install.run(["sh", "-c", script])
    return code, capsys.readouterr().err.splitlines()


def test_the_installers_output_passes_until_its_error_which_becomes_one_line(pin_install, capsys):
    error = "".join(f"echo '{line}' >&2; " for line in UV_UNTRUSTED.splitlines())
    code, lines = run_and_capture(
        pin_install, capsys, f"echo 'Resolved 8 packages' >&2; {error}exit 2"
    )
    assert code == 2
    assert lines[0] == "Resolved 8 packages"
    assert len(lines) == 2, lines
    assert lines[1].startswith("pin-install: the TLS certificate of https://pypi.org is not")
    section = re.search(r'\(README: "([^"]+)"\)$', lines[1])
    assert section, lines[1]
    assert f"\n## {section[1]}\n" in README, f"the README has no section {section[1]!r}"
    assert "set EXTRA_CA_BUNDLE" in lines[1]


def test_success_keeps_every_line(pin_install, capsys):
    code, lines = run_and_capture(
        pin_install, capsys, "echo 'error: but recovered' >&2; echo ' + six==1.17.0' >&2"
    )
    assert code == 0
    assert lines == ["error: but recovered", " + six==1.17.0"]


def test_joins_the_extra_ca_to_the_system_cas(pin_install, tmp_path, monkeypatch):
    system, extra, tmpfs = tmp_path / "system.pem", tmp_path / "extra.pem", tmp_path / "ca"
    system.write_text("SYSTEM")
    extra.write_text("EXTRA")
    tmpfs.mkdir()
    monkeypatch.setattr(pin_install, "SYSTEM_CAS", str(system))
    monkeypatch.setattr(pin_install, "EXTRA_CA", str(extra))
    monkeypatch.setattr(pin_install, "BUILD_TMPFS", str(tmpfs))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("PIP_CERT", raising=False)
    pin_install.trust_extra_ca()
    bundle = tmpfs / "bundle.pem"
    assert bundle.read_text() == "SYSTEM\nEXTRA\n"
    assert pin_install.os.environ["SSL_CERT_FILE"] == str(bundle)
    assert pin_install.os.environ["PIP_CERT"] == str(bundle)


@pytest.mark.parametrize("case", ["empty placeholder", "bundle already chosen"])
def test_leaves_the_trust_alone(pin_install, tmp_path, monkeypatch, case):
    extra = tmp_path / "extra.pem"
    extra.write_text("" if case == "empty placeholder" else "EXTRA")
    monkeypatch.setattr(pin_install, "EXTRA_CA", str(extra))
    monkeypatch.setattr(pin_install, "BUILD_TMPFS", str(tmp_path))
    monkeypatch.delenv("PIP_CERT", raising=False)
    if case == "bundle already chosen":
        monkeypatch.setenv("SSL_CERT_FILE", "/the/entrypoints/bundle.pem")
    else:
        monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    pin_install.trust_extra_ca()
    assert not (tmp_path / "bundle.pem").exists()
    assert "PIP_CERT" not in pin_install.os.environ


def test_an_unreadable_ca_bundle_is_one_line(pin_install, tmp_path, monkeypatch, capsys):
    system = tmp_path / "system.pem"
    system.write_text("system\n")
    extra = tmp_path / "extra_ca"
    extra.mkdir()  # open() fails on it, as on a secret mounted unreadable (root reads any file)
    (extra / "x").write_text("x")
    monkeypatch.setattr(pin_install, "SYSTEM_CAS", str(system))
    monkeypatch.setattr(pin_install, "EXTRA_CA", str(extra))
    monkeypatch.setattr(pin_install.os.path, "isfile", lambda path: True)
    monkeypatch.setattr(pin_install, "BUILD_TMPFS", str(tmp_path))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    assert pin_install.main(["uv", "--version"]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"pin-install: cannot read the CA bundle {extra}: Is a directory"], lines


@pytest.mark.parametrize("given", [None, "30"])
def test_uv_gets_a_compile_timeout_that_holds_under_emulation(pin_install, monkeypatch, given):
    monkeypatch.setenv("UV_COMPILE_BYTECODE_TIMEOUT", given or "")  # restored afterwards
    if given is None:
        monkeypatch.delenv("UV_COMPILE_BYTECODE_TIMEOUT")
    code = pin_install.main(["uv", "--version"])  # not installed here: the run fails, the env stays
    assert code in (0, 127)
    expected = given or pin_install.COMPILE_TIMEOUT_SECONDS
    assert pin_install.os.environ["UV_COMPILE_BYTECODE_TIMEOUT"] == expected


def test_pip_resumes_a_download_a_proxy_cut(pin_install, monkeypatch):
    monkeypatch.setenv("PIP_RESUME_RETRIES", "")  # restored afterwards
    monkeypatch.delenv("PIP_RESUME_RETRIES")
    monkeypatch.setattr(pin_install, "check_tls", lambda index: None)
    monkeypatch.setattr(pin_install, "run", lambda command: 0)
    assert pin_install.main(["pip", "install", "x"]) == 0
    assert pin_install.os.environ["PIP_RESUME_RETRIES"] == pin_install.PIP_RESUMES


def test_refuses_other_programs(pin_install, capsys):
    assert pin_install.main(["sh", "-c", "true"]) == 2
    assert capsys.readouterr().err == "pin-install: usage: pin-install uv|pip ARGS...\n"
