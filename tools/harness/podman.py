"""Podman as its users run it (rootless), for the tests: a private image store, images handed
over from the Docker engine, and Podman's Docker-compatible API socket for compose.

Everything lives in one temporary folder and goes with it: the store (its own --root and
--runroot, so the user's own Podman images are never touched) and the socket, whose service is
stopped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .commands import run


@dataclass
class Podman:
    folder: Path

    @property
    def socket(self) -> Path:
        return self.folder / "podman.sock"

    @property
    def docker_host(self) -> str:
        """DOCKER_HOST for compose (or the docker CLI) to talk to this Podman."""
        return f"unix://{self.socket}"

    def command(self, *args: str) -> list[str]:
        store = ["--root", str(self.folder / "root"), "--runroot", str(self.folder / "run")]
        # overlay: what Podman uses where the kernel offers it to a user; the fallback (vfs)
        # copies every layer whole.
        return ["podman", *store, "--storage-driver", "overlay", *args]

    def __call__(self, *args: str, timeout: float = 120, check: bool = True):
        return run(self.command(*args), timeout=timeout, check=check)

    def load(self, *images: str) -> None:
        """Hand images over from the Docker engine (`docker save | podman load`)."""
        with subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE) as save:
            loaded = subprocess.run(
                self.command("load"),
                stdin=save.stdout,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        assert save.returncode == 0, f"docker save {' '.join(images)} failed"
        assert loaded.returncode == 0, loaded.stderr


def problem() -> str | None:
    """Why rootless Podman cannot be tested here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed (Debian/Ubuntu: apt-get install podman catatonit)"
    if os.geteuid() == 0:
        return "Podman is tested rootless, as its users run it: run the tests as another user"
    return None


@contextlib.contextmanager
def podman() -> Iterator[Podman]:
    """A rootless Podman with a private store in a new temporary folder and its API socket
    serving; the service stopped and the folder removed afterwards."""
    # A short path: Podman refuses a runroot longer than 50 characters.
    folder = Path(tempfile.mkdtemp(prefix="berth-podman-", dir="/tmp"))
    engine = Podman(folder)
    log = (folder / "service.log").open("w")
    service = subprocess.Popen(
        engine.command("system", "service", "--time=0", engine.docker_host),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not engine.socket.exists():
            assert service.poll() is None, (folder / "service.log").read_text()
            assert time.monotonic() < deadline, "podman system service made no socket in 30 s"
            time.sleep(0.1)
        yield engine
    finally:
        service.terminate()
        try:
            service.wait(timeout=20)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait(timeout=20)
        log.close()
        engine("rm", "-a", "-f", check=False, timeout=120)
        engine("volume", "prune", "-f", check=False, timeout=120)
        # The store holds files of the user namespace's other ids: removed from inside it.
        run(["podman", "unshare", "rm", "-rf", str(folder)], check=False, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
