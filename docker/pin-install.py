#!/usr/bin/env python3
"""Run a package installer (uv or pip) the way berth installs pins, e.g.

    pin-install uv pip sync --require-hashes requirements.txt
    pin-install pip install --require-hashes --no-deps --target /opt/uv -r requirements-uv.txt

It trusts the optional extra CA bundle and makes a failure one line that says what happened:
behind a TLS-intercepting proxy without EXTRA_CA_BUNDLE, that line names the setting instead of
retries and a certificate error deep in the installer's output.

Builds bind-mount it (no image layer holds it); the dev image has it on PATH for the dev server,
which syncs the venv with it when the pins change (dev/dependencies.py). Standard library only:
it runs on the base image's Python.
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

EXTRA_CA = "/run/secrets/extra_ca"  # the BuildKit secret, or the dev stack's compose secret
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"
# The Dockerfile mounts a tmpfs here, so the joined bundle stays out of every layer.
BUILD_TMPFS = "/tmp/ca"  # noqa: S108 - a mount of its own, not a shared temp folder
PROXY_HINT = (
    "behind a TLS-intercepting proxy, set EXTRA_CA_BUNDLE to a PEM file with its CA "
    '(README: "Behind a company proxy or mirror")'
)
# uv gives each file it byte-compiles 60 s, then fails the install ("Bytecode timed out (60s)
# compiling file"). Emulated (an arm64 build on an amd64 machine, QEMU) a large module such as
# sqlalchemy/orm/session.py takes longer on a busy machine; the bound stays, only wider. A value
# in the environment wins.
COMPILE_TIMEOUT_SECONDS = "600"
# A proxy may cut a download that goes slowly (emulated, pip reads the 17 MB uv wheel slowly on
# a busy machine: reset after about 20 s, every retry starting over). pip 25.1+ resumes where it
# stopped instead (a Range request); older pips ignore the variable.
PIP_RESUMES = "10"
# How uv (rustls or native TLS) and pip (OpenSSL) report a certificate nobody vouches for.
UNTRUSTED = re.compile(
    r"invalid peer certificate|certificate verify failed|CERTIFICATE_VERIFY_FAILED|UnknownIssuer",
    re.IGNORECASE,
)


def say(message: str) -> None:
    print(f"pin-install: {message}", file=sys.stderr, flush=True)


def trust_extra_ca() -> None:
    """Point uv (SSL_CERT_FILE) and pip (PIP_CERT) at the system CAs plus the extra bundle; an
    environment that already names a bundle (the dev entrypoint's) is left as it is."""
    if os.environ.get("SSL_CERT_FILE") or not os.path.isfile(EXTRA_CA):
        return
    if os.path.getsize(EXTRA_CA) == 0:  # the empty placeholder: nothing to add
        return
    folder = BUILD_TMPFS if os.path.isdir(BUILD_TMPFS) else tempfile.mkdtemp(prefix="pin-install-")
    bundle = os.path.join(folder, "bundle.pem")
    with open(bundle, "wb") as joined:
        for part in (SYSTEM_CAS, EXTRA_CA):
            with open(part, "rb") as source:
                shutil.copyfileobj(source, joined)
                joined.write(b"\n")
    os.environ["SSL_CERT_FILE"] = os.environ["PIP_CERT"] = bundle


def check_tls(index: str) -> str | None:
    """pip retries a certificate failure five times with back-off before it says so; one
    request first tells in a fraction of a second. Only an untrusted certificate counts: any
    other network trouble is left to pip, which may still manage from its cache."""
    if not index.startswith("https://"):
        return None
    context = ssl.create_default_context(cafile=os.environ.get("PIP_CERT") or None)
    request = urllib.request.Request(index, method="HEAD")  # noqa: S310 - https only
    try:
        urllib.request.urlopen(request, timeout=15, context=context).close()  # noqa: S310
    except urllib.error.URLError as error:
        if isinstance(error.reason, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {index} is not trusted ({error.reason.verify_message})"
    except ssl.SSLCertVerificationError as error:
        return f"the TLS certificate of {index} is not trusted ({error.verify_message})"
    except (OSError, ValueError):
        pass
    return None


def summary(error_lines: list[str]) -> str:
    """uv's error and its chain of causes (and a hash mismatch's two hashes) on one line."""
    parts, hashes, label = [], {}, None
    for raw in error_lines:
        line = raw.strip()
        if m := re.match(r"(?:error|cause|Caused by):\s*(.*)", line):
            parts.append(m[1])
        elif line in ("Expected:", "Computed:"):
            label = line[:-1].lower()
        elif label and line:
            hashes.setdefault(label, line)
    text = ": ".join(p for p in parts if p)
    if hashes:
        text += " (" + ", ".join(f"{k} {v}" for k, v in hashes.items()) + ")"
    return text


def untrusted(text: str) -> str | None:
    if not UNTRUSTED.search(text):
        return None
    host = re.search(r"https://([^/\s`'\")]+)", text)
    detail = UNTRUSTED.search(text)[0]
    where = f"https://{host[1]}" if host else "the package index"
    return f"the TLS certificate of {where} is not trusted ({detail})"


def run(command: list[str]) -> int:
    """Run the installer, passing its output through until its error block, which becomes one
    line (uv prints an error as a multi-line chain of causes)."""
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)  # noqa: S603
    held: list[str] = []
    for line in process.stderr:
        if held or line.startswith("error:"):
            held.append(line)
        else:
            sys.stderr.write(line)
    code = process.wait()
    if code == 0 or not held:
        sys.stderr.writelines(held)
        return code
    text = summary(held) or " ".join(line.strip() for line in held)
    problem = untrusted(text)
    say(f"{problem}; {PROXY_HINT}" if problem else text)
    return code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("uv", "pip"):
        say("usage: pin-install uv|pip ARGS...")
        return 2
    try:
        trust_extra_ca()
    except OSError as error:  # e.g. a rootless Podman build that mounts the secret unreadable
        say(f"cannot read the CA bundle {error.filename}: {error.strerror}")
        return 1
    os.environ.setdefault("UV_COMPILE_BYTECODE_TIMEOUT", COMPILE_TIMEOUT_SECONDS)
    if argv[0] == "pip":
        os.environ.setdefault("PIP_RESUME_RETRIES", PIP_RESUMES)
        index = os.environ.get("PIP_INDEX_URL") or "https://pypi.org/simple/"
        problem = check_tls(index)
        if problem:
            say(f"{problem}; {PROXY_HINT}")
            return 1
    try:
        return run(argv)
    except FileNotFoundError:
        say(f"{argv[0]} is not installed here")
        return 127


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
