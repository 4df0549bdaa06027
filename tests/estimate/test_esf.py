"""The ESF indicators as ESF defines them: hand counts, the counterfactual, and the truth.

The synthetic generator knows both potential outcomes and draws each mentored person's time
in mentoring independently of everything else, so ``truth.json``'s ATT of the indicators is
exactly the estimand of :mod:`evaluation.estimate.esf`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.config import load_params
from evaluation.design import study_design
from evaluation.design.sample import build_analysis
from evaluation.estimate import esf
from evaluation.estimate.effects import EffectsSpec, analysis_sample
from evaluation.estimate.montecarlo import split_frame
from evaluation.rng import stream
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[2]
#: Largest gap between the generator's truth and the mean of its per-person effects.
TRUTH_ATOL = 1e-12


def _month(label: pd.Series) -> pd.Series:
    year, month = label.str.slice(0, 4).astype(int), label.str.slice(5, 7).astype(int)
    return year * 12 + month - 1


def _hand_count(participants: pd.DataFrame, monthly: pd.DataFrame, after: int) -> dict[str, int]:
    """Mentored persons employed ``after`` months after their end month, counted by hand."""
    left = (participants["group"] == "mentored") & participants["end_month"].notna()
    m = participants.loc[left]
    target = pd.DataFrame({"person_id": m["person_id"], "sex": m["sex"],
                           "month": _month(m["end_month"].astype(str)) + after})  # fmt: skip
    months = monthly.assign(month=_month(monthly["month"].astype(str)))
    joined = target.merge(months, on=["person_id", "month"], how="inner")
    counts = {"all": int(joined["employed"].sum())}
    for sex in ("female", "male"):
        counts[f"sex={sex}"] = int(joined.loc[joined["sex"] == sex, "employed"].sum())
    counts["observed"] = len(joined)
    return counts


@pytest.fixture(scope="module")
def default_study():
    """The default study's chain up to the ESF outcomes (notebooks 01, 02 and 03's part)."""
    params = load_params(ROOT / "params" / "default.yaml", check_files=False)
    sections = params.notebook_parameters()
    out_p, design, estimation = (sections[k] for k in ("outcomes", "design", "estimation"))
    horizons = list(out_p["horizons"])
    study = generate(params.seed, n_mentored=params.synthetic.n_mentored,
                     n_comparison=params.synthetic.n_comparison,
                     horizons=tuple(horizons), pre_months=int(out_p["pre_months"]))  # fmt: skip
    analysis = build_analysis(study.participants, study.monthly, horizons=horizons,
                              pre_months=int(out_p["pre_months"]),
                              min_pre_months=int(out_p["min_pre_months"]),
                              rng=stream(params.seed, "pseudo_starts"))  # fmt: skip
    covs, outs = split_frame(analysis.frame, horizons)
    dsg = study_design(covs, covariates=design["covariates"], design=design,
                       matching=estimation["matching"])  # fmt: skip
    hand = dsg.hand_over()
    spec = EffectsSpec.from_params(design, estimation)
    persons = covs.merge(hand[["person_id", "logit"]], on="person_id", validate="one_to_one")
    built = esf.build_leaving_outcomes(persons, study.monthly, persons["logit"], spec.exact)
    data = analysis_sample(covs, outs, hand).merge(built.frame, on="person_id", how="left")
    return study, persons, built, data, spec


def test_the_indicator_equals_a_hand_count_on_the_synthetic_data(default_study):
    study, persons, built, _, _ = default_study
    everyone = persons.merge(built.frame, on="person_id")
    counts = esf.indicator_counts(everyone)
    for name, after in (("employed_at_leaving", 1), ("employed_after_leaving_m6", 6)):
        hand = _hand_count(study.participants, study.monthly, after)
        for group in ("sex=female", "sex=male", "all"):
            assert len(counts.employed[name, group]) == hand[group], (name, group)
        assert len(counts.leavers[name, "all"]) == hand["observed"]
    # and with the generator's own count of the mentored in work six months after leaving
    truth = study.truth["esf_indicators"]
    assert truth["n_leavers"] == built.n_leavers == 50
    assert truth["employed_observed"]["employed_after_leaving_m6"] == len(
        counts.employed["employed_after_leaving_m6", "all"]
    )


def test_six_months_after_leaving_is_not_six_months_after_start(default_study):
    _, persons, built, _, _ = default_study
    frame = persons.merge(built.frame, on="person_id")
    mentored = frame.loc[frame["treated"] == 1]
    # mentoring lasts six to twelve months: the indicator is read 11 to 17 months after start
    months = mentored["months_to_leaving"] + 6
    assert months.between(11, 17).all() and months.nunique() > 3


def test_truth_of_the_indicators_is_the_mean_of_both_potential_outcomes(default_study):
    study = default_study[0]
    att = study.truth["att"]
    for name in ("employed_at_leaving", "employed_after_leaving_m6"):
        assert -1.0 <= att[name] <= 1.0
        by_sex = study.truth["att_by_sex"]
        n_w, n_m = (study.truth["n_mentored_by_sex"][s] for s in ("female", "male"))
        pooled = (n_w * by_sex["female"][name] + n_m * by_sex["male"][name]) / (n_w + n_m)
        assert abs(pooled - att[name]) < TRUTH_ATOL


@pytest.mark.parametrize("outcome", ["employed_after_leaving_m6", "employed_at_leaving"])
def test_the_headline_estimate_of_the_indicator_covers_its_true_att(default_study, outcome):
    study, _, _, data, spec = default_study
    got = esf.estimate_indicators(data, spec, min_cell=5, outcomes=[outcome])
    head = next(r for r in got.results
                if r.estimator == spec.headline_estimator and r.subgroup == "all")  # fmt: skip
    truth = study.truth["att"][outcome]
    assert head.ci_low <= truth <= head.ci_high, (head, truth)
    assert head.persons is not None and len(head.persons[0]) == head.n_treated


def test_a_comparison_person_borrows_the_nearest_mentored_leaving_time_in_its_cell():
    treated = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    leaving = np.array([6.0, 9.0, 11.0, np.nan, np.nan, np.nan, np.nan, np.nan])
    score = np.array([0.0, 1.0, 5.0, 0.4, 0.6, 4.0, 0.5, 0.55])
    cell = np.array(["q1", "q1", "q2", "q1", "q1", "q2", "q3", "q1"])
    got = esf.counterfactual_leaving(treated, leaving, score, cell)
    # the mentored keep their own (the last has none: not a leaver and no donor);
    # 0.4 is nearer 0.0 than 1.0; 0.6 nearer 1.0; the q2 person takes q2's mentored even
    # though q1's are nearer on the score; q3 has no mentored: the nearest overall (0.0 and
    # 1.0 are equally near 0.5: the lower score wins)
    np.testing.assert_array_equal(got, [6.0, 9.0, 11.0, 6.0, 9.0, 11.0, 6.0, np.nan])


def test_without_any_leaver_nothing_is_computed():
    treated = np.array([1, 0, 0])
    got = esf.counterfactual_leaving(treated, np.array([np.nan] * 3), np.zeros(3))
    assert np.isnan(got).all()
    persons = pd.DataFrame({"person_id": ["a", "b", "c"], "treated": treated,
                            "start_month": ["2018-01"] * 3, "end_month": [None] * 3})  # fmt: skip
    monthly = pd.DataFrame({"person_id": ["a"], "month": ["2018-02"], "employed": [1]})
    built = esf.build_leaving_outcomes(persons, monthly, np.zeros(3), None)
    assert not built.available and built.frame[list(esf.INDICATORS)].isna().all().all()
