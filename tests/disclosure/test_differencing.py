"""Differencing control of a study's results: no suppressed count is given back by the others.

Threshold ``K`` = 5 throughout. The results are small hand-made ``results.json`` contents
with the structure the notebooks write (numbers, effects of several notebooks, tables), so
that every expected hidden value can be worked out by hand:

* a chain of 50 mentored, 46 analysed after trimming (4 trimmed: ``'<5'``), 40 matched;
  50 - 46 = 4 gives the trimmed count back, so 46 (an effect's sample size) is hidden;
* nothing suppressed and no two sizes closer than ``K``: nothing changes at all.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from evaluation.disclosure.differencing import (
    HIDDEN,
    chain_effects,
    protect_results,
    recoveries,
    without_sample_sizes,
)

K = 5


def _effect(notebook, estimator, n_t, n_c, outcome="employed_m12", subgroup="all", est=0.1):
    return {"notebook": notebook, "outcome": outcome, "estimator": estimator,
            "subgroup": subgroup, "estimate": est, "se": 0.05, "n_treated": n_t,
            "n_control": n_c}  # fmt: skip


def _results(*, trimmed, analysed, matched, esf=((22, 19), (28, 21))):
    """A study's results: 50 mentored, ``trimmed`` of them trimmed (as published)."""
    numbers = {
        "n_mentored": 50, "n_comparison": 3000, "n_trimmed_treated": trimmed,
        "n_trimmed_control": 600, "n_matched": matched, "n_unmatched": analysed - matched,
        "n_controls_used": 150, "timing_n_persons": analysed + 2400,
        "es_matched_employed": {"n_treated": matched, "n_control": 150, "n_obs": 7000,
                                "sup_t": 2.9},
        "bottomup_n_both": 44,
    }  # fmt: skip
    effects = [_effect("03_effects", est, analysed, 2400) for est in ("naive", "ipw", "aipw")]
    effects += [_effect("03_effects", "matching", matched, 150, est=0.2)]
    effects += [
        _effect("04_timing", "event_study_ipw", analysed, 2400),
        _effect("04_timing", "cs_dr", 7, 2400),
    ]  # a cohort: not a size of the chain
    (fa, fm), (ma, mm) = esf
    effects += [
        _effect("03_effects", "naive", fa, 900, "employed_m6", "sex=female"),
        _effect("03_effects", "matching", fm, 60, "employed_m6", "sex=female"),
        _effect("03_effects", "naive", ma, 900, "employed_m6", "sex=male"),
        _effect("03_effects", "matching", mm, 70, "employed_m6", "sex=male"),
    ]
    tables = {
        "effects": [{k: e[k] for k in ("outcome", "estimator", "subgroup", "estimate",
                                       "n_treated", "n_control")}
                    for e in effects if e["notebook"] == "03_effects"],
        "trimming": [{"step": "before trimming", "mentored": "50", "comparison": "3000"},
                     {"step": "trimmed", "mentored": "<5", "comparison": "600"},
                     {"step": "after trimming", "mentored": str(analysed),
                      "comparison": "2400"}],
        "sample_flow": [{"step": "analysed", "kind": "analysed", "mentored": "50",
                         "comparison": "3000", "total": "3050"}],
        "spec_curve_estimates": [{"estimator": "ipw", "estimate": 0.1, "n_treated": analysed,
                                  "n_control": 2400}],
        "bottomup_agreement": [{"item": "goal_1", "n": str(analysed), "agree": "20"}],
    }  # fmt: skip
    return {"numbers": numbers, "effects": effects, "tables": tables}


def _published_sizes(results):
    counts = {k: v for k, v in results["numbers"].items() if k.startswith("n_")}
    return counts, chain_effects(results["effects"], K)


def test_a_trimmed_count_is_not_given_back_by_the_analysed_sample_size():
    res = _results(trimmed="<5", analysed=46, matched=40)
    counts, chain = _published_sizes(res)
    assert recoveries(counts, chain, K), "the set-up must give the trimmed count back"
    before = copy.deepcopy(res)

    hidden = protect_results(res, K)

    # 46 = 40 matched + 6 unmatched would pin it again: one of those goes too
    assert 46 in hidden and {40, 6} & set(hidden)
    counts, chain = _published_sizes(res)
    assert recoveries(counts, chain, K) == []
    # the analysed size is hidden everywhere it is shown as a sample size ...
    for e in res["effects"]:
        if e["subgroup"] == "all" and e["estimator"] != "matching" and e["notebook"] != "04_timing":
            assert e["n_treated"] == HIDDEN, e
    assert [e["n_treated"] for e in res["effects"] if e["estimator"] == "event_study_ipw"] == [
        HIDDEN
    ]
    assert res["tables"]["spec_curve_estimates"][0]["n_treated"] == HIDDEN
    assert res["tables"]["trimming"][2]["mentored"] == HIDDEN
    assert all(r["n_treated"] == HIDDEN for r in res["tables"]["effects"]
               if r["subgroup"] == "all" and r["estimator"] != "matching")  # fmt: skip
    # ... with the numbers computed from it
    assert res["numbers"]["timing_n_persons"] == HIDDEN
    assert res["numbers"]["es_matched_employed"]["n_obs"] == HIDDEN
    # what is not a sample size of the chain stays: the cohort, the survey, estimates, 50
    assert [e["n_treated"] for e in res["effects"] if e["estimator"] == "cs_dr"] == [7]
    assert res["numbers"]["bottomup_n_both"] == 44
    assert res["tables"]["bottomup_agreement"][0]["n"] == "46", "a column not of sample sizes"
    assert res["numbers"]["n_mentored"] == 50 and res["numbers"]["n_comparison"] == 3000
    assert [e["estimate"] for e in res["effects"]] == [e["estimate"] for e in before["effects"]]
    assert res["numbers"]["es_matched_employed"]["sup_t"] == 2.9


def test_nothing_suppressed_and_no_small_difference_changes_nothing():
    res = _results(trimmed=0, analysed=50, matched=42, esf=((22, 16), (28, 21)))
    before = copy.deepcopy(res)
    assert protect_results(res, K) == []
    assert res == before


def test_an_unmatched_count_below_the_threshold_hides_the_matched_size():
    # nobody trimmed, 50 analysed, 47 matched: 3 unmatched, shown '<5'; 50 - 47 gives it back
    res = _results(trimmed=0, analysed=50, matched=47, esf=((22, 16), (28, 21)))
    res["numbers"]["n_unmatched"] = "<5"
    hidden = protect_results(res, K)
    assert hidden == [47]
    assert res["numbers"]["n_matched"] == HIDDEN
    assert res["numbers"]["es_matched_employed"]["n_treated"] == HIDDEN
    assert [e["n_treated"] for e in res["effects"] if e["estimator"] == "matching"
            and e["subgroup"] == "all"] == [HIDDEN]  # fmt: skip
    assert res["numbers"]["n_mentored"] == 50, "the larger, the participants, is kept"


def test_within_a_subgroup_two_sizes_closer_than_k_are_not_both_shown():
    res = _results(trimmed=0, analysed=50, matched=42, esf=((22, 20), (28, 23)))
    assert protect_results(res, K) == [20]
    by = {(e["estimator"], e["subgroup"]): e["n_treated"] for e in res["effects"]
          if e["subgroup"] != "all"}  # fmt: skip
    assert by == {("naive", "sex=female"): 22, ("matching", "sex=female"): HIDDEN,
                  ("naive", "sex=male"): 28, ("matching", "sex=male"): 23}  # fmt: skip
    rows = {(r["estimator"], r["subgroup"]): r["n_treated"] for r in res["tables"]["effects"]}
    assert rows[("matching", "sex=female")] == HIDDEN and rows[("matching", "sex=male")] == 23


def test_a_hidden_cell_of_the_sample_flow_hides_its_total():
    res = _results(trimmed="<5", analysed=46, matched=40)
    res["tables"]["sample_flow"][0]["mentored"] = "46"  # as if 46 were the persons analysed
    protect_results(res, K)
    row = res["tables"]["sample_flow"][0]
    assert row["mentored"] == HIDDEN and row["total"] == HIDDEN and row["comparison"] == "3000"


def test_notebooks_display_effects_without_sample_sizes():
    frame = pd.DataFrame({"estimate": [0.1], "se": [0.05], "n_treated": [46], "n_control": [9]})
    assert list(without_sample_sizes(frame).columns) == ["estimate", "se"]
    assert list(frame.columns) == ["estimate", "se", "n_treated", "n_control"], "not modified"


def test_the_report_does_not_turn_an_effect_on_a_hidden_size_into_persons(tmp_path):
    from evaluation.report.render import Numbers, ReportKeyError

    num = Numbers({"numbers": {}, "effects": []}, "en", tmp_path)
    e = _effect("03_effects", "matching", HIDDEN, 150)
    with pytest.raises(ReportKeyError, match="withheld"):
        num.people(e)
    assert num.people(_effect("03_effects", "matching", 40, 150)) == "4"


def test_counts_inside_an_effects_spec_follow_the_same_rules(tmp_path):
    from evaluation.estimate.results import EffectResult
    from evaluation.results.recorder import Recorder

    rec = Recorder(tmp_path, "03_effects", min_cell=K)

    def result(unmatched, subgroup):
        return EffectResult.from_normal(
            estimate=0.1, se=0.05, outcome="employed_m6", estimator="matching", estimand="ATT",
            n_treated=20, n_control=60, subgroup=subgroup,
            spec={"n_unmatched_treated": unmatched, "n_missing_outcome_dropped": 0,
                  "propensity": {"n_obs": 900, "n_treated": 22}})  # fmt: skip

    frame = rec.effects(
        [result(2, "sex=female"), result(6, "all")], made_by=EffectResult.from_normal
    )
    # primary suppression at the door: 2 unmatched women is a count below K
    assert frame["spec"][0]["n_unmatched_treated"] == "<5"
    assert frame["spec"][0]["n_missing_outcome_dropped"] == 0, "zero shows nobody"
    assert frame["spec"][1]["n_unmatched_treated"] == 6
    # secondary: a hidden value goes from the spec too, with the numbers derived from sizes
    res = _results(trimmed="<5", analysed=46, matched=40)
    res["effects"][3]["spec"] = {
        "n_unmatched_treated": 6,
        "propensity": {"n_obs": 2446, "n_treated": 46},
    }
    hidden = protect_results(res, K)
    spec = res["effects"][3]["spec"]
    assert spec["propensity"] == {"n_obs": HIDDEN, "n_treated": HIDDEN}
    assert spec["n_unmatched_treated"] == (HIDDEN if 6 in hidden else 6)


def test_a_size_written_as_a_float_is_hidden_like_an_integer():
    res = _results(trimmed="<5", analysed=46, matched=40)
    res["numbers"]["bottomup_moderation"] = {"n_treated": 46.0, "n_control": 2400.0}
    protect_results(res, K)
    assert res["numbers"]["bottomup_moderation"] == {"n_treated": HIDDEN, "n_control": 2400.0}


def test_a_zero_is_never_what_is_hidden(monkeypatch):
    # a recovery through the sums can use a published 0 (nobody trimmed); hiding the 0 would
    # protect nobody and turn every '0' of the flow tables into '..': another value goes
    from evaluation.disclosure import differencing

    found = [[differencing.Recovery("the sums pin n_unmatched", (0, 57))], []]
    monkeypatch.setattr(differencing, "recoveries", lambda *a: found.pop(0))
    counts = {"n_mentored": 60, "n_trimmed_treated": 0, "n_matched": 57, "n_unmatched": "<5"}
    effects = [{"estimator": "matching", "outcome": "employed_m12", "n_treated": 57,
                "n_control": 120}]  # fmt: skip
    assert differencing.secondary_suppress(counts, effects, K) == [57]
    assert counts["n_trimmed_treated"] == 0 and counts["n_matched"] == HIDDEN


def test_a_suppressed_count_in_the_report_text_is_escaped_once(tmp_path):
    from evaluation.report.render import Numbers, make_environment

    num = Numbers({"numbers": {"n_unmatched": "<5"}, "effects": []}, "en", tmp_path)
    html = make_environment().from_string('{{ num.n("n_unmatched") }} unmatched').render(num=num)
    assert html == "&lt;5 unmatched"
