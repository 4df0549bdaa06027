"""End to end: notebook 06 ran in the study and its two chapters are in the report."""

from __future__ import annotations

import json
import re

import pytest

from evaluation.report.render import chapters, render_html
from evaluation.text import catalogue

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def results(finished_run):
    run, _ = finished_run
    return run, json.loads((run.run_dir / "results.json").read_text("utf-8"))


def test_robustness_results_are_in_results_json(results):
    _, res = results
    nums = res["numbers"]
    for key in ("power", "placebo_summary", "spec_curve_summary", "costs"):
        assert key in nums, key
    placebo = [e for e in res["effects"] if e["estimator"].startswith("placebo_")]
    assert placebo and all(e["notebook"] == "06_robustness" for e in placebo)
    # placebo estimates never pose as the study's effects
    assert res["headline"]["estimator"] == "matching"
    # wall times measure the machine: in provenance, never among the results
    assert "timing_spec_curve" not in nums
    t = res["provenance"]["measured"]["timing_spec_curve"]
    assert t["processes_seen"] == t["workers"] == 2
    assert t["parallel_seconds"] > 0
    # one-by-one timing only when asked for (robustness.compare_sequential, off by default)
    assert "sequential_seconds" not in t
    # a CI that includes zero gives no upper bound and never a negative cost
    c = nums["costs"]
    if c["effect_low"] <= 0 < c["effect"]:
        assert c["status"] == "unbounded" and c["cost_per_additional_high"] is None
    assert all(v is None or v > 0 for k, v in c.items() if k.startswith("cost_per"))


@pytest.mark.parametrize("language", ["en", "sv"])
def test_report_has_robustness_and_costs_chapters(results, language):
    run, res = results
    assert {"robustness", "costs"} <= set(chapters(res))
    html = render_html(res, language, run.run_dir)
    assert 'id="robustness"' in html and 'id="costs"' in html
    for fig in ("power_curve", "placebo_forest", "spec_curve"):
        assert f'id="fig-{fig}"' in html
    mde = res["numbers"]["power"]["costs_horizon_mde"]
    if isinstance(mde, str):  # the disclosure audit withheld it: its label where the number was
        lead = " ".join(catalogue(language)["rob_power_reading"].split("{{", 1)[0].split())
        text = " ".join(re.sub(r"<[^>]+>", " ", html).split())
        assert mde == ".." and f"{lead} .." in text
        return
    shown = f"{100 * mde:.0f}" if language == "en" else f"{100 * mde:.0f}".replace(".", ",")
    assert shown in html
