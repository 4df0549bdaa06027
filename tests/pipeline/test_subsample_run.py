"""End to end: a comparison pool larger than ``design.subsample_comparison``.

The register-scale path (every notebook on the design stage's comparison subsample where the
analysis is repeated or needs the whole panel) runs on the test study by setting the cap below
its pool. What must hold: the estimates that use everyone (every estimator of notebook 03, the
matched event study, time to first job, the bottom-up chapter) are *identical* to the run
without a subsample; the repeated analyses rest on the subsample; the report says so.
"""

from __future__ import annotations

import json

import pytest

from evaluation.pipeline.run import run_study

CAP = 400
#: estimators computed on everyone: must not move when only the subsample changes
EVERYONE = {"naive", "regression", "ra", "ipw", "aipw", "matching", "event_study_matched",
            "cox_matched", "bottomup_interaction", "bottomup_split_ra"}  # fmt: skip
#: estimators computed on the subsample
SUBSAMPLE = {"event_study_ipw", "cs_dr", "cs_or", "twfe"}


@pytest.fixture(scope="module")
def capped_run(finished_run, tmp_path_factory, make_params):
    folder = tmp_path_factory.mktemp("capped")
    # the same run also exercises the one-by-one timing of the specification curve
    params = make_params(
        folder, **{"design.subsample_comparison": CAP, "robustness.compare_sequential": True}
    )
    result = run_study(params, folder / "outputs", echo=lambda *a, **k: None)
    return result, json.loads((result.run_dir / "results.json").read_text("utf-8"))


def _by_key(results: dict, estimators: set[str]) -> dict:
    return {(e["outcome"], e["estimator"], e["subgroup"]): e for e in results["effects"]
            if e["estimator"] in estimators}  # fmt: skip


def test_the_subsample_is_recorded(capped_run, finished_run):
    _, res = capped_run
    sub = res["numbers"]["comparison_subsample"]
    whole = json.loads((finished_run[0].run_dir / "results.json").read_text("utf-8"))
    assert whole["numbers"]["comparison_subsample"]["used"] is False
    assert sub["used"] is True and sub["n_drawn"] == CAP and sub["max_comparison"] == CAP
    assert sub["n_pool"] == whole["numbers"]["comparison_subsample"]["n_pool"] > CAP
    assert sub["fraction"] == pytest.approx(CAP / sub["n_pool"])


def test_estimates_on_everyone_do_not_move(capped_run, finished_run):
    _, res = capped_run
    whole = json.loads((finished_run[0].run_dir / "results.json").read_text("utf-8"))
    a, b = _by_key(whole, EVERYONE), _by_key(res, EVERYONE)
    assert len(a) > 50 and a.keys() == b.keys()
    for key in a:
        assert a[key]["estimate"] == b[key]["estimate"], key
        assert a[key]["se"] == b[key]["se"], key


def test_repeated_analyses_rest_on_the_subsample(capped_run, finished_run):
    _, res = capped_run
    whole = json.loads((finished_run[0].run_dir / "results.json").read_text("utf-8"))
    capped = _by_key(res, SUBSAMPLE)
    assert {k[1] for k in capped} == SUBSAMPLE
    for e in capped.values():
        assert e["n_control"] <= CAP, (e["outcome"], e["estimator"], e["n_control"])
    full = _by_key(whole, {"event_study_ipw"})
    assert max(e["n_control"] for e in full.values()) > CAP  # the uncapped run used more
    perm_capped = res["numbers"]["headline_permutation"]
    perm_whole = whole["numbers"]["headline_permutation"]
    assert perm_capped["n_persons"] < perm_whole["n_persons"]
    # the placebo and specification-curve estimates rest on the subsample too
    placebo = [e for e in res["effects"] if e["estimator"].startswith("placebo_")]
    assert placebo and max(e["n_control"] for e in placebo) <= CAP


def test_the_report_says_the_check_used_a_sample(capped_run):
    result, res = capped_run
    html = result.report.read_text("utf-8")
    n_pool = res["numbers"]["comparison_subsample"]["n_pool"]
    assert f"a random sample of {CAP} of the" in " ".join(html.split())
    assert f"{n_pool:,}" in html or str(n_pool) in html


def test_the_specification_curve_is_also_timed_one_by_one_when_asked(capped_run):
    _, res = capped_run
    t = res["provenance"]["measured"]["timing_spec_curve"]
    assert t["workers"] == 2 and t["parallel_seconds"] > 0 and t["sequential_seconds"] > 0
