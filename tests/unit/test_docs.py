"""The README and docs/ agree with the code: the files and modules they name exist, the layout map
is the top level, and the stage list, the container's test selection, the benchmark figures'
numbers and results folder are what the Dockerfile, pytest's settings and tools/bench say. Each
figure lives in docs/benchmarks.md with its method, commit and date; the README quotes none
without them."""

from __future__ import annotations

import ast
import importlib
import json
import re
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
BENCHMARKS = (ROOT / "docs" / "benchmarks.md").read_text()

# Local state that is never part of the project (see .gitignore).
LOCAL = {".git", ".venv", "venv", "node_modules", "instance", ".pytest_cache", ".ruff_cache"}
LOCAL |= {".env", ".hypothesis", "sbom.cdx.json"}
# Named by the docs, made by a command rather than committed: make sbom's output, the plots
# scripts/bench draws into docs/figures, a run's results, the test tools scripts/test installs.
GENERATED = [
    "sbom.cdx.json",
    "docs/figures/*.svg",
    "tools/bench/results/*",
    "tools/node_modules*",
    ".venv*",
    ".env",
]
# Files of other projects the docs name: debugpy's, and the ones a Skaffold or DevSpace user
# writes (docs/kubernetes.md shows them).
FOREIGN = {"public_api.py", "skaffold.yaml", "devspace.yaml"}


def _text(path: Path) -> str:
    return path.read_text()


def _paragraphs(text: str) -> list[str]:
    return [p for p in re.split(r"\n\s*\n", text) if p.strip()]


def _figures() -> list[str]:
    """The figure names in the order tools/bench numbers them (FIGURES, from 1)."""
    bench = importlib.import_module("tools.bench.__main__")
    return list(bench.FIGURES)


# -- layout ---------------------------------------------------------------------------------


def _layout() -> list[str]:
    block = _text(ROOT / "docs" / "layout.md").split("```", 2)[1]
    return [line.split()[0].split("/")[0] or line.split()[0] for line in block.splitlines()
            if line and not line.startswith(" ")]  # fmt: skip


def _dockerignored() -> set[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return {line.strip("/") for line in lines if line and not line.startswith(("#", "!"))}


def test_the_layout_map_names_every_top_level_entry_and_nothing_else():
    listed = set(_layout())
    present = {p.name for p in ROOT.iterdir()} - LOCAL
    present = {name for name in present if not name.endswith((".pyc", "__pycache__"))}
    assert present - listed == set(), "top-level entries missing from docs/layout.md"
    # In the dev image, what .dockerignore keeps out of the build context is not there.
    assert listed - present - _dockerignored() == set(), "docs/layout.md names what is not here"


# -- names: files, folders, modules, links --------------------------------------------------

TOP_LEVEL = {p.name for p in ROOT.iterdir()}
PATH_LIKE = re.compile(r"[\w.-]+(?:/[\w.*<> -]*)+|[\w-]+\.(?:py|yml|yaml|md|json|toml|txt|in|sh)")


def _generated(name: str) -> bool:
    return any(Path(name).match(pattern) or name.startswith(pattern.rstrip("*"))
               for pattern in GENERATED)  # fmt: skip


def _tracked() -> list[str]:
    files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True)
    if files.returncode != 0:  # not a git checkout (an image's copy): what is on disk
        return [str(p.relative_to(ROOT)) for p in ROOT.rglob("*") if p.is_file()]
    return files.stdout.split()


def _exists(name: str, page: Path) -> bool:
    name = name.split("#")[0].rstrip(":,")
    if any(ch in name for ch in "*<"):
        return bool(list(ROOT.glob(name))) or _generated(name)
    if "/" not in name:  # a bare file name: somewhere in the project
        return name in FOREIGN or any(Path(f).name == name for f in _tracked())
    return (ROOT / name).exists() or (page.parent / name).exists() or _generated(name)


def _backticked(text: str) -> list[str]:
    """What the page names in backticks as a repo path: `dir/file.ext`, `dir/`, `file.py`."""
    names = []
    for code in re.findall(r"`([^`\n]+)`", text):
        if " " in code or (code.startswith(("/", "http", "~", "$", ".")) and "/" not in code):
            continue
        if not PATH_LIKE.fullmatch(code):
            continue
        if "/" in code and code.split("/")[0] not in TOP_LEVEL:
            continue  # a container path (/app), a URL path (api/notes), an image (library/x)
        names.append(code)
    return names


# The pages name files that an image's copy of the project leaves out (.dockerignore: .git/,
# .github/): files and links are checked in a checkout (CI runs these on the host).
in_a_checkout = pytest.mark.skipif(
    not (ROOT / ".git").exists(),
    reason="not a checkout: .dockerignore left out files the docs name",
)


@in_a_checkout
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_a_page_names_exists(page):
    text = _text(page)
    missing = [name for name in _backticked(text) if not _exists(name, page)]
    assert missing == [], f"{page.name} names files that are not here: {missing}"


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    heading = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(h) for h in re.findall(r"^#+ (.+)$", _text(page), flags=re.MULTILINE)}


@in_a_checkout
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_a_page_has_leads_somewhere(page):
    text = re.sub(r"```.*?```", "", _text(page), flags=re.DOTALL)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        missing = not linked.exists() and not _generated(str(linked.relative_to(ROOT)))
        if missing or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == [], f"{page.name} links to what is not there: {broken}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_module_a_page_names_exists(page):
    text = _text(page)
    modules = {
        m for m in re.findall(r"python -m ([a-z_][\w.]*)", text) if m.split(".")[0] in TOP_LEVEL
    }
    modules |= {m for m in re.findall(r"`([a-z_]+(?:\.[a-z_]+)+)(?:\.\*)?`", text)
                if m.split(".")[0] in TOP_LEVEL}  # fmt: skip
    for module in modules:
        path = ROOT / module.replace(".", "/")
        assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), module


# -- the Dockerfile's stages, the container's test selection --------------------------------


def test_the_stage_lists_are_the_dockerfiles():
    stages = re.findall(r"^FROM \S+ AS ([\w-]+)", DOCKERFILE, flags=re.MULTILINE)
    quoted = []
    for page in PAGES:
        for found in re.findall(r"stages ((?:[a-z][\w-]*, )+(?:and )?[a-z][\w-]*)", _text(page)):
            quoted.append((page.name, re.split(r", (?:and )?", found)))
    assert quoted, "no page lists the Dockerfile's stages"
    for name, listed in quoted:
        assert listed == stages, f"{name} lists the stages {listed}, the Dockerfile has {stages}"


def _selections() -> dict[str, str]:
    """The pytest `-m` selections the code sets, by where."""
    addopts = re.search(r"PYTEST_ADDOPTS=\"-m '([^']+)'\"", DOCKERFILE)
    assert addopts, "the Dockerfile sets no PYTEST_ADDOPTS"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    options = pyproject["tool"]["pytest"]["ini_options"]["addopts"]
    script = re.search(r'exec pytest -m "([^"]+)"', (ROOT / "scripts" / "test").read_text())
    assert script, "scripts/test selects no markers"
    config = (ROOT / ".devcontainer" / "devcontainer.json").read_text()
    devcontainer = json.loads(re.sub(r"^\s*//.*$", "", config, flags=re.MULTILINE))
    args = devcontainer["customizations"]["vscode"]["settings"]["python.testing.pytestArgs"]
    return {
        "Dockerfile": addopts[1],
        "pyproject.toml": options[options.index("-m") + 1],
        "scripts/test": script[1],
        "devcontainer.json": args[args.index("-m") + 1],
    }


def test_the_test_selections_quoted_are_the_codes():
    selections = _selections()
    assert selections["devcontainer.json"] == selections["Dockerfile"]
    quoted = {}
    for page in PAGES:
        for paragraph in _paragraphs(_text(page)):
            for selection in re.findall(r'-m "(not [^"]+)"', paragraph):
                quoted.setdefault(selection, []).append(page.name)
            if "PYTEST_ADDOPTS" in paragraph:
                assert f'-m "{selections["Dockerfile"]}"' in paragraph, (
                    f"{page.name}: a paragraph names PYTEST_ADDOPTS without the Dockerfile's "
                    f"selection: {paragraph[:200]}"
                )
    assert selections["Dockerfile"] in quoted, "no page quotes the container's test selection"
    unknown = {s: pages for s, pages in quoted.items() if s not in selections.values()}
    assert unknown == {}, f"selections the code does not make: {unknown}"


def test_no_page_names_a_fixed_compose_project():
    compose = (ROOT / "docker-compose.dev.yml").read_text()
    assert not re.search(r"^name:", compose, flags=re.MULTILINE), "the compose file names a project"
    for page in PAGES:
        assert not re.search(r"compose project (?:name )?is `berth`", _text(page)), page.name


# -- the benchmarks: numbers, results, commits and dates ------------------------------------


def test_benchmarks_has_a_section_for_each_figure_in_the_codes_order():
    sections = re.findall(r"^## Figure (\d+): (\w+)$", BENCHMARKS, flags=re.MULTILINE)
    assert [(int(n), name) for n, name in sections] == list(enumerate(_figures(), 1))


def _sections() -> dict[str, str]:
    parts = re.split(r"^## Figure \d+: (\w+)$", BENCHMARKS, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.parametrize("name", _figures())
def test_each_figure_says_how_and_when_it_was_measured(name):
    section = _sections()[name]
    stamp = re.search(r"Measured on commit `([0-9a-f]{7,40}|TBD)`, (?:date `TBD`|(\d{4}-\d\d-\d\d))",
                      section)  # fmt: skip
    assert stamp, f"figure {name}: no 'Measured on commit `...`, YYYY-MM-DD'"
    if stamp[1] == "TBD":
        assert name in ("reload", "day"), f"figure {name} is to be measured, but not planned"
    else:
        commit = subprocess.run(["git", "-C", ROOT, "cat-file", "-t", stamp[1]],
                                capture_output=True, text=True)  # fmt: skip
        assert commit.returncode != 0 or commit.stdout.strip() == "commit", stamp[1]
    # The table's rows carry the figure's own number and name.
    number = _figures().index(name) + 1
    assert "\n|---" in section, f"figure {name} has no table"
    rows = re.findall(r"^\| (\d+) (\w+) \|", section, flags=re.MULTILINE)
    assert set(rows) <= {(str(number), name)}, rows


MENTION = re.compile(
    r"\b[Ff]igures?\s+(\d+(?:\s+\(\w+\))?(?:(?:,|\s+and|,\s+and)\s+\d+(?:\s+\(\w+\))?)*)"
)


def _mentions(text: str) -> list[tuple[int, str | None]]:
    found = []
    for group in MENTION.findall(text):
        for number, name in re.findall(r"(\d+)(?:\s+\((\w+)\))?", group):
            found.append((int(number), name or None))
    return found


@pytest.mark.parametrize(
    "path",
    [*PAGES, *sorted((ROOT / "tools").glob("bench/*.py")), *sorted((ROOT / "tests").rglob("*.py"))],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_figure_numbers_are_the_codes(path):
    figures = _figures()
    text = _text(path)
    if path.suffix == ".py":
        # A bench module that names its figure first ("Figure N: ...") runs that figure.
        doc = ast.get_docstring(ast.parse(text)) or ""
        head = re.match(r"Figure (\d+): ", doc)
        if head:
            run = importlib.import_module("tools.bench.__main__").FIGURES[figures[int(head[1]) - 1]]
            assert run[1].__module__ == f"tools.bench.{path.stem}", (path.name, head[0])
            text = text.replace(head[0], "", 1)
    text = re.sub(r"^## Figure \d+: \w+$", "", text, flags=re.MULTILINE)
    for number, name in _mentions(text):
        assert 1 <= number <= len(figures), f"{path.name}: figure {number} does not exist"
        assert name is not None, f"{path.name}: write figure {number} as 'figure {number} (name)'"
        assert name == figures[number - 1], f"{path.name}: figure {number} is not {name}"


def test_the_results_folder_is_where_the_bench_writes():
    code = (ROOT / "tools" / "bench" / "__main__.py").read_text()
    # A run writes <UTC time>.json there, and its plots into the folder of the same name.
    assert 'ROOT / "tools" / "bench" / "results" / f"{stamp}.json"' in code
    assert 'path.with_suffix("")' in code
    assert ".now(datetime.UTC)" in code
    allowed = {"tools/bench/results/", "tools/bench/results/<UTC time>.json",
               "tools/bench/results/<UTC time>/", "tools/bench/results/<time>.json"}  # fmt: skip
    places = [*PAGES, ROOT / "scripts" / "bench", ROOT / "tools" / "bench" / "__main__.py"]
    quoted = {(p.name, m) for p in places for m in re.findall(r"tools/bench/results/(?:<UTC time>)?[^\s`)\"]*",
                                                               _text(p))}  # fmt: skip
    assert quoted, "no page says where the results go"
    wrong = {(name, m.rstrip(".,;")) for name, m in quoted if m.rstrip(".,;") not in allowed}
    assert wrong == set(), wrong


FIGURE_WITH_UNIT = re.compile(r"(?<![\w.:/-])\d+(?:\.\d+)?\s?(?:s|ms|MB|MiB|GB|req/s)\b")
STAMP = re.compile(r"commit `[0-9a-f]{7,40}`.{0,40}\d{4}-\d\d-\d\d", flags=re.DOTALL)


def test_the_readme_quotes_no_figure_without_its_commit_and_date():
    for paragraph in _paragraphs(_text(README)):
        if FIGURE_WITH_UNIT.search(paragraph):
            assert STAMP.search(paragraph), f"a figure without its commit and date: {paragraph}"


def test_the_prod_run_command_is_the_one_make_runs():
    makefile = (ROOT / "Makefile").read_text()
    production = _text(ROOT / "docs" / "production.md")
    documented = re.search(r"docker run [^`]*?-v (\S+):/data", production, flags=re.DOTALL)
    make_volume = re.search(r"-v (\S+):/data", makefile)
    assert documented, "docs/production.md shows no `docker run ... -v <volume>:/data`"
    assert make_volume, "make prod-run mounts no volume on /data"
    assert documented[1] == make_volume[1]


def test_the_debugger_page_explains_the_standby():
    # The dev server hands each reload to a standby app process (dev/supervisor.py): the page on
    # the dev server must say so, or a reader cannot follow why a reload is fast.
    debugger = _text(ROOT / "docs" / "debugger.md")
    assert "standby" in (ROOT / "dev" / "supervisor.py").read_text()
    assert re.search(r"^#+ .*standby", debugger, flags=re.MULTILINE | re.IGNORECASE)
