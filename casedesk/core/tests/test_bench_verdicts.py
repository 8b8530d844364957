"""The benches' closing lines (bench/_verdict.py): the figure, the target, pass or MISS."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.no_database

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _verdict() -> ModuleType:
    # bench/ is a folder of scripts, not a package: load the helper from its file.
    spec = importlib.util.spec_from_file_location("bench_verdict", BENCH / "_verdict.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_line_names_the_figure_and_the_target_and_ends_in_pass_or_miss(capsys):
    verdict = _verdict()
    assert verdict.verdict("look-alikes taken", "0/28", "0", True) is True
    assert verdict.verdict("look-alikes taken", "2/28", "0", False) is False
    assert capsys.readouterr().out.splitlines() == [
        "look-alikes taken: 0/28 (target 0): pass",
        "look-alikes taken: 2/28 (target 0): MISS",
    ]


def test_a_figure_exactly_at_a_floor_passes(capsys):
    verdict = _verdict()
    assert verdict.at_least("messages", 260.0, 260.0, "/s") is True
    assert verdict.at_least("messages", 259.6, 260.0, "/s") is False
    assert capsys.readouterr().out.splitlines() == [
        "messages: 260/s (target >= 260/s): pass",
        "messages: 260/s (target >= 260/s): MISS",  # rounded for print, judged unrounded
    ]


def test_a_figure_exactly_at_a_limit_misses(capsys):
    verdict = _verdict()
    assert verdict.under("p99", 1999.0, 2000.0, "ms") is True
    assert verdict.under("p99", 2000.0, 2000.0, "ms") is False
    assert verdict.at_least("ratio", 156.4, 50.0, "x") is True
    assert capsys.readouterr().out.splitlines() == [
        "p99: 1,999 ms (target < 2,000 ms): pass",
        "p99: 2,000 ms (target < 2,000 ms): MISS",
        "ratio: 156x (target >= 50x): pass",
    ]
