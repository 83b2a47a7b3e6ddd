"""What the dev server's log says (dev/), read by the tests and benchmarks: one place for the
phrases they look for."""

from __future__ import annotations

import re
from dataclasses import dataclass

RESTARTED = "restarting the dev server in place"
UNCLAIMED = "no editor attached to this app process within"
LOADED = re.compile(
    r"app loaded in (?P<seconds>[\d.]+) s: (?P<modules>\d+) modules imported, "
    r"(?P<libraries>\d+) of them libraries \((?P<names>[^)]*)\)"
)


@dataclass(frozen=True)
class Load:
    """One app process's load, from the go signal until the app was built."""

    seconds: float
    modules: int  # imported meanwhile
    libraries: int  # of those, the ones that are not the project's own code
    names: tuple[str, ...]  # the libraries' top-level packages


def loads(log: str) -> list[Load]:
    """Every successful app load the log tells of, oldest first."""
    return [
        Load(
            float(m["seconds"]),
            int(m["modules"]),
            int(m["libraries"]),
            tuple(n for n in m["names"].split(", ") if n != "none"),
        )
        for m in LOADED.finditer(log)
    ]
