"""scripts/bench's entry point: every figure's module imports, and --help lists them all."""

import importlib
import pkgutil
import subprocess
import sys

import tools.bench
from tools.bench.__main__ import FIGURES
from tools.harness.project import ROOT


def test_every_bench_module_imports():
    # A figure nobody ran for a while must still import: a rename elsewhere breaks it otherwise.
    for module in pkgutil.iter_modules(tools.bench.__path__):
        importlib.import_module(f"tools.bench.{module.name}")


def test_help_lists_every_figure():
    result = subprocess.run(
        [sys.executable, "-m", "tools.bench", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    for option in ("--against", "--json", "--plots", "--quick", "--repeat"):
        assert option in text, option
    for name in FIGURES:
        assert f"{name}:" in text, name
