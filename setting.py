"""One way to read a setting from the environment and check it, for the app (app/config.py),
the dev server (dev/settings.py) and the prod server (prod/settings.py).

A value that does not fit stops the program with one line that names the setting, the value and
what is accepted (``PORT='80a' is not a port: use a whole number from 1 to 65535``), instead of
silently meaning something else. An empty value counts as unset: ``KEY=`` in a .env file is how
people clear a setting.

A module of its own, outside the app package: the dev server reads its settings in every
process, and must not import the app before it is told to serve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PORTS = (1, 65535)
FLAGS = {"1": True, "true": True, "yes": True, "on": True}
FLAGS |= {"0": False, "false": False, "no": False, "off": False}


class SettingError(ValueError):
    """A setting the program cannot start with; the message is the whole story, in one line."""


def blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def shown(raw: object, limit: int = 40) -> str:
    """A value for a message: as typed, or its start and length when it is long."""
    text = str(raw)
    if len(text) <= limit:
        return repr(raw)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def whole_number(raw: object, low: int, high: int) -> int | None:
    """``raw`` as a whole number from ``low`` to ``high``, or None. ASCII digits only: int()
    would also take "-1", " 7", "1_0" and other scripts' digits."""
    if isinstance(raw, bool):
        return None  # an int to Python, never a number to a person
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(high))):
        return None
    value = int(text)
    return value if low <= value <= high else None


@dataclass(frozen=True)
class Setting:
    """A setting: its name, what it means, and its default. ``read`` takes the raw value (a
    string from the environment, or a value a caller passes on), ``get`` an environment."""

    name: str
    default: Any
    what: str  # what the value is, for the message: "a port", "the worker processes"

    def get(self, environ: Mapping[str, str]) -> Any:
        return self.read(environ.get(self.name))

    def read(self, raw: object) -> Any:
        if blank(raw):
            return self.default
        value = self.parse(raw)
        if value is None:
            raise SettingError(
                f"{self.name}={shown(raw)} is not {self.what}: use {self.accepted()}"
            )
        return value

    def parse(self, raw: object) -> Any:
        raise NotImplementedError

    def accepted(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Number(Setting):
    low: int = 0
    high: int = 2**31 - 1

    def parse(self, raw: object) -> int | None:
        return whole_number(raw, self.low, self.high)

    def accepted(self) -> str:
        return f"a whole number from {self.low} to {self.high}"


def port(name: str, default: int, what: str = "a port") -> Number:
    return Number(name, default, what, *PORTS)


@dataclass(frozen=True)
class Flag(Setting):
    what: str = "a flag"

    def parse(self, raw: object) -> bool | None:
        return raw if isinstance(raw, bool) else FLAGS.get(str(raw).strip().lower())

    def accepted(self) -> str:
        return "1 or 0 (true/false, yes/no, on/off)"


@dataclass(frozen=True)
class Choice(Setting):
    """One of a few words, whatever its case; the value is the word as ``choices`` spell it."""

    choices: Sequence[str] = ()

    def parse(self, raw: object) -> str | None:
        return {c.lower(): c for c in self.choices}.get(str(raw).strip().lower())

    def accepted(self) -> str:
        return "one of " + ", ".join(self.choices)


@dataclass(frozen=True)
class Seconds(Setting):
    what: str = "a time"
    low: float = 0.0
    high: float = 3600.0

    def parse(self, raw: object) -> float | None:
        try:
            value = float(str(raw).strip())
        except ValueError:
            return None
        return value if self.low <= value <= self.high else None

    def accepted(self) -> str:
        return f"seconds from {self.low:g} to {self.high:g}"
