"""``evaluation compare RUN_A RUN_B``: the parameters that differ, then every number that moved.

Two run folders are written here with known contents (the layout of a finished run:
``status.json``, ``params.yaml``, ``results.json``); B differs from A in known places, so the
comparison must list exactly those, the headline first, effects matched by what they
estimate and not by position. Tolerance: that of ``evaluation verify`` (relative 1e-9).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from evaluation.cli import build_parser, main
from evaluation.pipeline.compare import compare_runs, html_page, text_lines

PARAMS = {
    "seed": 1,
    "study": {"name": "Mentor Väst", "language": "en"},
    "data": {"participants": "p.csv", "monthly": {"path": "m.csv", "sep": ";"}},
    "estimation": {"headline": {"estimator": "matching", "outcome": "employed_m12"}},
    "costs": {"duration_months": 12},
}
RESULTS = {
    "kind": "study",
    "study": {"name": "Mentor Väst", "language": "en"},
    "headline": {"outcome": "employed_m12", "estimator": "matching", "estimate": 0.10,
                 "se": 0.05, "ci_low": 0.002, "ci_high": 0.198, "n_treated": 44},
    "effects": [
        {"outcome": "employed_m6", "estimator": "naive", "subgroup": "all", "estimate": 0.28,
         "se": 0.07},
        {"outcome": "employed_m12", "estimator": "matching", "subgroup": "all", "estimate": 0.10,
         "se": 0.05},
    ],
    "numbers": {"n_mentored": 50, "costs": {"per_participant": 40000.0, "net": -1.5e5},
                "timing_spec_curve": {"parallel_seconds": 2.17}},
    "tables": {"effects": [{"outcome": "employed_m6", "estimator": "naive", "subgroup": "all",
                            "estimate": 0.28}]},
    "skipped": [],
    "exhibits": [{"key": "effects", "title": "Effects"}],
    "provenance": {"started": "2026-12-07T05:00:00+00:00"},
}  # fmt: skip


def write_run(folder: Path, params: dict, results: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(json.dumps({"status": "succeeded"}), "utf-8")
    (folder / "params.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    (folder / "results.json").write_text(json.dumps(results), "utf-8")
    return folder


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    a = write_run(tmp_path / "outputs" / "site-a", PARAMS, RESULTS)
    params = copy.deepcopy(PARAMS)
    params["costs"]["duration_months"] = 6
    params["study"]["language"] = "sv"
    results = copy.deepcopy(RESULTS)
    results["study"]["language"] = "sv"
    results["headline"]["estimate"] = 0.12
    results["headline"]["se"] = 0.05 * (1 + 1e-12)  # within verify's tolerance: not moved
    results["effects"].reverse()  # the same effects in another order
    results["effects"][0]["estimate"] = 0.11  # employed_m12 / matching
    results["numbers"]["costs"]["net"] = -2.5e5
    results["numbers"]["timing_spec_curve"]["parallel_seconds"] = 9.0  # a wall time
    results["numbers"]["n_extra"] = 3
    results["provenance"]["started"] = "2026-12-07T06:00:00+00:00"
    results["exhibits"][0]["title"] = "Effekter"
    b = write_run(tmp_path / "outputs" / "site-b", params, results)
    return a, b


def test_the_parameters_that_differ_then_the_numbers_that_moved(runs) -> None:
    result = compare_runs(*runs)
    assert [(c.path, c.a, c.b) for c in result.parameters] == [  # in the file's order
        ("costs.duration_months", 12, 6),
        ("study.language", "en", "sv"),
    ]
    moved = [(c.section, c.path, c.a, c.b) for c in result.numbers]
    assert moved == [
        ("headline", "headline.estimate", 0.10, 0.12),
        ("effects", "effects[outcome=employed_m12, estimator=matching, subgroup=all].estimate",
         0.10, 0.11),
        ("numbers", "numbers.costs.net", -1.5e5, -2.5e5),
        ("numbers", "numbers.n_extra", "(absent)", 3),
        ("study", "study.language", "en", "sv"),
    ]  # fmt: skip
    assert result.numbers[0].delta == pytest.approx(0.02, abs=1e-15)


def test_identical_runs_have_nothing_to_show(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", PARAMS, RESULTS)
    b = write_run(tmp_path / "b", PARAMS, copy.deepcopy(RESULTS))
    result = compare_runs(a, b)
    assert result.parameters == () and result.numbers == ()
    assert result.compared > 10
    assert "(none: every number of the two runs agrees)" in "\n".join(text_lines(result))


def test_the_command_prints_text_and_writes_the_html_page(runs, capsys) -> None:
    a, b = runs
    assert main(["compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "Parameters that differ (2):" in lines
    assert "  costs.duration_months: 12 -> 6 (-6)" in lines
    assert "  headline.estimate: 0.1 -> 0.12 (+0.02)" in lines
    assert lines.index(" headline:") < lines.index(" effects:") < lines.index(" numbers:")
    page = b.parent / "compare-site-a-vs-site-b.html"
    assert f"HTML page: {page}" in out
    text = page.read_text("utf-8")
    assert "<h2>Parameters that differ (2)</h2>" in text
    assert "<code>headline.estimate</code></td><td>0.1</td><td>0.12</td><td>+0.02</td>" in text
    assert "timing_spec_curve" not in text and "provenance" not in text


def test_the_page_is_never_written_into_a_run_folder(runs, capsys) -> None:
    a, b = runs
    assert main(["compare", str(a), str(b), "--html", str(a / "cmp.html")]) == 2
    assert "not inside a run folder" in capsys.readouterr().err
    assert not (a / "cmp.html").exists()


def test_a_failed_run_is_refused(runs, capsys) -> None:
    a, b = runs
    (b / "status.json").write_text(json.dumps({"status": "failed", "stage": "notebooks"}))
    assert main(["compare", str(a), str(b)]) == 4
    assert "only a run that succeeded" in capsys.readouterr().err.lower()


def test_html_escapes_what_it_shows(tmp_path: Path) -> None:
    params = {**PARAMS, "study": {"name": "<b>x</b>", "language": "en"}}
    a = write_run(tmp_path / "a", PARAMS, RESULTS)
    b = write_run(tmp_path / "b", params, RESULTS)
    page = html_page(compare_runs(a, b))
    assert "<b>x</b>" not in page and "&lt;b&gt;x&lt;/b&gt;" in page


def test_compare_has_help() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["compare"]
    text = sub.format_help()
    assert "RUN_A" in text and "RUN_B" in text and "--html" in text and "headline" in text
