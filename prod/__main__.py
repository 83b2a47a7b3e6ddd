"""`python -m prod`: check the settings, then become gunicorn (same PID, same signals).

`python -m prod migrate` runs the database migrations and exits: the step a deployment runs
once, as a job, before it starts or replaces the web containers.
"""

import os
import shutil
import sys
from pathlib import Path

from app.config import ConfigError

from .settings import check_all

CONFIG = Path(__file__).resolve().parent / "gunicorn.conf.py"
EXIT_BAD_SETTING = 2


def main(argv: list[str]) -> int:
    if argv[:1] == ["migrate"]:
        from app.migrate import main as migrate

        return migrate(["upgrade", *argv[1:]])
    try:
        check_all(os.environ)
    except ConfigError as e:
        print(f"berth: cannot start: {e}", file=sys.stderr, flush=True)
        return EXIT_BAD_SETTING
    gunicorn = Path(sys.executable).with_name("gunicorn")
    program = str(gunicorn) if gunicorn.exists() else shutil.which("gunicorn")
    if program is None:
        print("berth: cannot start: gunicorn is not installed", file=sys.stderr, flush=True)
        return 1
    sys.stdout.flush()
    # exec, not a child process: gunicorn gets this PID (1 in a container) and the signals.
    os.execv(program, [program, "--config", str(CONFIG), *argv])  # noqa: S606
    return 1  # not reached


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
