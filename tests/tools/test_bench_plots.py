"""tools/bench/plots.py: the reload and day figures drawn from a results document."""

import pytest

from tools.bench import plots

# The plots need the tools' pins (tools/requirements.txt); the dev image carries the app's only.
pytest.importorskip(
    "matplotlib", reason="matplotlib is in tools/requirements.txt, not in the app's pins"
)


def document() -> dict:
    def save(seconds, ok=True):
        return {"kind": "save", "seconds": seconds, "ok": ok}

    return {
        "started": "20261202T120000Z",
        "machine": {"git_commit": "abcdef0123456789", "cpus": "2"},
        "figures": [
            {
                "name": "reload",
                "error": "",
                "rows": [
                    {"label": "reload: DEBUGPY=0 [this tree (abcdef0)]", "samples": [0.1, 0.12]},
                    {"label": "reload: DEBUGPY=0 [446f3d4]", "samples": [0.4, 0.5]},
                ],
            },
            {
                "name": "day",
                "error": "",
                "rows": [{"label": "day [446f3d4]: save to served", "samples": [0.4]}],
                "details": {"days": {"446f3d4": {"outcomes": [save(0.4), save(None, ok=False)]}}},
            },
            {"name": "size", "error": "", "rows": [{"label": "size: prod", "samples": [50]}]},
        ],
    }


def test_the_reload_and_day_figures_are_drawn_with_their_commit_and_date(tmp_path):
    written = plots.write(document(), tmp_path / "plots")
    assert [p.name for p in written] == ["reload.svg", "day.svg"]
    for path in written:
        text = path.read_text()
        assert text.startswith("<?xml")
        assert "commit abcdef0, 2026-12-02" in text
    assert "1 lost" in (tmp_path / "plots" / "day.svg").read_text()


def test_a_row_names_its_tree_or_else_measured_this_one():
    assert plots._tree_and_what("reload: DEBUGPY=0 [446f3d4]") == ("446f3d4", "DEBUGPY=0")
    assert plots._tree_and_what("day [x]: save to served") == ("x", "save to served")
    assert plots._tree_and_what("reload: DEBUGPY=0") == ("this tree", "DEBUGPY=0")
