"""Hostile run directories: every field of every file damaged in turn (tests/unit/fixtures/damaged.py), and the
caps on what a report quotes. Reports and comparisons never crash on what a run directory holds."""

from __future__ import annotations

import functools
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rich.console import Console

from drills.checks import typed_json
from drills.cli import main
from drills.report import page, print_compare, print_summary
from drills.report.compare import compare_views, render_compare_html
from drills.report.fmt import duration, num, percent
from drills.report.junit import render_junit
from drills.report.page import render_html
from drills.report.quote import QUOTE_MAX, SECTION_MAX, clip, within_section
from drills.report.view import build_view
from tests.unit.fixtures.damaged import JSONL_FILES, RUNS, WRONG, Damage, damages, make

CORPUS = (damages("pass", "result.json", depth=4) + damages("pass", "meta.json") + damages("pass", "final-state.json")
          + damages("crashed", "meta.json") + [d for f in JSONL_FILES for d in damages("crashed", f)])
# What the first fuzzing found (each crashed `drill report` before): kept whatever the rotation above picks.
FOUND = [Damage("pass", "result.json", None, ("availability", "phases", "warmup", 0), "list"),
         Damage("pass", "result.json", None, ("availability", "phases", "warmup", 0, 0), "numeric text"),
         Damage("pass", "result.json", None, ("availability", "success_ratio"), "huge"),
         Damage("pass", "result.json", None, ("budgets", 0, "observed"), "huge"),
         Damage("pass", "result.json", None, ("budgets", 0, "metric"), "object"),
         Damage("pass", "result.json", None, ("started",), "huge")]


@pytest.fixture()
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hundreds of reports: no charts (each is guarded on its own, see test_charts_of_damaged_runs), and the
    result model's type hints read once (what dominates reading a result back; nothing else changes)."""
    monkeypatch.setattr(page, "render_charts", lambda view: {})
    monkeypatch.setattr(typed_json, "fields", functools.cache(typed_json.fields))
    monkeypatch.setattr(typed_json, "required_keys", functools.cache(typed_json.required_keys))


@pytest.fixture(scope="module")
def pass_view():
    return build_view(RUNS / "pass")


def _renders(run: Path, other) -> None:
    """Everything `drill report` and `drill compare` make of a run, none of it through a safety net."""
    view = build_view(run)
    html = render_html(view)
    assert html.startswith("<!DOCTYPE html>") and "could not be rendered" not in html
    ET.fromstring(render_junit(view).encode())     # valid XML whatever the files held
    diff = compare_views(other, view)
    render_compare_html(diff)
    out = io.StringIO()
    console = Console(file=out, width=120)
    print_summary(console, view.result)
    print_compare(console, diff)
    assert "\x1b" not in out.getvalue()


@pytest.mark.parametrize("damage", CORPUS + FOUND, ids=lambda d: d.id)
def test_a_damaged_field_never_crashes_a_report(damage: Damage, tmp_path: Path, quick: None, pass_view) -> None:
    _renders(make(damage, tmp_path / "run"), pass_view)


def test_the_corpus_covers_every_file_and_wrong_type() -> None:
    assert {d.file for d in CORPUS} == {"result.json", "meta.json", "final-state.json", *JSONL_FILES}
    assert {d.wrong for d in CORPUS} == set(WRONG)
    assert len(CORPUS) > 400


@pytest.mark.parametrize("damage", FOUND[:3] + [Damage("crashed", "events.jsonl", 5, ("iteration",), "huge"),
                                                Damage("crashed", "probes.jsonl", 0, ("nodes",), "list")],
                         ids=lambda d: d.id)
def test_charts_of_damaged_runs_and_the_cli(damage: Damage, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    run = make(damage, tmp_path / "runs" / "run")
    assert main(["report", str(run)]) == 0
    assert main(["compare", str(RUNS / "pass"), str(run), "--html", str(tmp_path / "c.html")]) == 0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert "could not be rendered" not in (run / "report.html").read_text()


def test_numeric_text_in_every_history_line(tmp_path: Path, quick: None, pass_view) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "crashed", run)
    lines = []
    for raw in (run / "history.jsonl").read_text().splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        lines.append(json.dumps({k: str(v) if isinstance(v, (int, float)) else v for k, v in obj.items()}))
    (run / "history.jsonl").write_text("\n".join(lines) + "\n")
    _renders(run, pass_view)


# ---- caps ------------------------------------------------------------------------------------------------------

def test_clip_says_how_much_it_cut() -> None:
    assert clip("short") == "short"
    text = clip("é" * 10_000)  # 20 000 bytes
    assert text.endswith("… (16 000 bytes cut)") and len(text.split("…")[0].encode()) == QUOTE_MAX
    kept, left, left_bytes = within_section(["x" * 1000] * 1000)
    assert len(kept) == SECTION_MAX // 1000 and left == 1000 - len(kept) and left_bytes == left * 1000


def test_a_huge_line_in_events_makes_a_small_report(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "run"
    shutil.copytree(RUNS / "crashed", run)
    big = "A" * 5_000_000 + "\x1b[2J\x00"
    lines = []
    for raw in (run / "events.jsonl").read_text().splitlines():
        try:
            obj = json.loads(raw)
        except ValueError:
            continue
        if obj.get("kind") == "fault":
            obj.update(error=big, detail=big, heal_error=big, fault_id=f"kill-{big[:200_000]}",
                       target={"service": big[:100_000], "role": "leader"})
        lines.append(json.dumps(obj))
    (run / "events.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["report", str(run)]) == 0
    html = (run / "report.html").read_text()
    assert len(html) < 1_500_000 and "bytes cut)" in html
    junit = (run / "junit.xml").read_text()
    assert len(junit) < 200_000
    ET.fromstring(junit.encode())


def test_thousands_of_notes_are_cut_per_section(tmp_path: Path, quick: None) -> None:
    run = tmp_path / "run"
    shutil.copytree(RUNS / "pass", run)
    result = json.loads((run / "result.json").read_text())
    result["notes"] = [f"note {i}: " + "x" * 200 for i in range(20_000)]    # 4 MB of notes
    (run / "result.json").write_text(json.dumps(result))
    html = render_html(build_view(run))
    assert len(html) < 2 * SECTION_MAX + 400_000
    assert "more items (" in html and "bytes cut)" in html


def test_numbers_from_damaged_files_read_as_numbers() -> None:
    assert num(1e308) == "1e+308" and percent(1e308) == "1e+308" and duration(1e308) == "1e+308 s"
    assert percent(0.5) == "50 %" and num(123456) == "123 456"


def test_links_in_a_run_directory_are_replaced_not_written_through(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "run"
    shutil.copytree(RUNS / "pass", run)
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me")
    (run / "report.html").symlink_to(outside)
    (run / "junit.xml").symlink_to(outside)
    assert main(["report", str(run)]) == 0
    assert outside.read_text() == "keep me"
    assert not (run / "report.html").is_symlink() and not (run / "junit.xml").is_symlink()
    assert not list(run.glob(".*.tmp"))
