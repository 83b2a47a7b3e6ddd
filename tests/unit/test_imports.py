"""No import circles among the project's own modules, counting imports made inside functions
(the way a circle usually hides), and no module of the app's imported by the dev server before
an app process's go (dev/ must not hold app code a save would make stale)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "dev", "prod")
MODULES = ("setting",)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def own_modules() -> dict[str, Path]:
    found = {name: ROOT / f"{name}.py" for name in MODULES}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[module_name(path)] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that ``name`` imports, at the top or in any function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import module` imports that module; `from module import name`, the module.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                for alias in node.names
            ]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    modules = own_modules()
    return {name: imports(name, path, set(modules)) for name, path in modules.items()}


def test_no_import_circles():
    edges = graph()
    circles = []

    def visit(name: str, trail: list[str]) -> None:
        for target in sorted(edges[name]):
            if target in trail:
                circles.append([*trail[trail.index(target) :], target])
            elif len(trail) < len(edges):
                visit(target, [*trail, target])

    for name in sorted(edges):
        visit(name, [name])
    assert not circles, "\n".join(" -> ".join(c) for c in circles[:5])


def test_the_dev_server_imports_nothing_of_the_app_package():
    """app_process imports the app after its go (and dev.metrics once it has); the rest of dev/
    never does."""
    edges = graph()
    for name, targets in edges.items():
        if name.startswith("dev") and name not in ("dev.app_process", "dev.metrics"):
            assert not {t for t in targets if t == "app" or t.startswith("app.")}, name


def test_the_graph_sees_imports_inside_functions():
    edges = graph()
    assert "app.migrate" in edges["app"]  # create_app imports it only when it migrates
    assert "setting" in edges["dev.settings"]
