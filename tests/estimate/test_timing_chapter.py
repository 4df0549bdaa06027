"""The timing chapter function on a small synthetic study (no kernel).

What it publishes and the facts its published values give away: every count of persons and
every sample size (event study, staggered DiD, TWFE, Cox and Kaplan–Meier) has a fact with
exactly the persons it counts, checked against persons found again from the hand-overs;
every numeric cell of its tables has a fact; every fact names a value the recorded results
hold, and the run's audit reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.chapters import timing as chapter
from evaluation.chapters.design import design_chapter
from evaluation.config import outcome_names
from evaluation.design.sample import build_analysis
from evaluation.disclosure.audit import audit, locate
from evaluation.disclosure.ledger import Ledger, person_ids, row_key
from evaluation.estimate import duration as du
from evaluation.estimate import dynamics as dy
from evaluation.estimate import staggered as st
from evaluation.protocol import params_source
from evaluation.results.recorder import Recorder, ledger_path
from evaluation.rng import stream
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[2]
SEED = 13
K = 5
#: Bootstrap draws of the test (the study's 999 would only make it slow).
DRAWS = 49
OUTCOMES = [*outcome_names([6, 12, 24]), "months_to_job", "job_found", "months_after"]


@pytest.fixture(scope="module")
def params():
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc["estimation"]["bootstrap"]["draws"] = DRAWS
    doc["timing"]["bootstrap_draws"] = 199
    return doc


@pytest.fixture(scope="module")
def inputs(params, tmp_path_factory):
    study = generate(SEED, n_mentored=50, n_comparison=600)
    frame = build_analysis(study.participants, study.monthly,
                           rng=stream(SEED, "pseudo_starts")).frame  # fmt: skip
    covs = frame[[c for c in frame.columns if c not in OUTCOMES]]
    dc = design_chapter(covs, design=params["design"], matching=params["estimation"]["matching"],
                        rng=stream(SEED, "comparison_subsample"), min_cell=K)  # fmt: skip
    monthly = study.monthly.loc[study.monthly["person_id"].isin(frame["person_id"])]
    path = tmp_path_factory.mktemp("scratch") / "monthly_panel.parquet"
    monthly.to_parquet(path, index=False)
    return {"covariates": covs, "outcomes": frame[["person_id", *OUTCOMES]],
            "design_handover": dc.hand_over, "monthly_panel": path}  # fmt: skip


@pytest.fixture(scope="module")
def ch(inputs, params):
    return chapter.timing_chapter(
        *inputs.values(), design=params["design"], estimation=params["estimation"],
        timing=params["timing"], seed=SEED, min_cell=K,
    )  # fmt: skip


@pytest.fixture(scope="module")
def persons(inputs):
    """The trimmed persons with their design decisions and outcomes, found again by hand."""
    p = inputs["covariates"].merge(inputs["design_handover"], on="person_id")
    p = p.merge(inputs["outcomes"], on="person_id")
    return p.loc[p["keep"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def recorded(ch, tmp_path_factory):
    """The chapter recorded as notebook 04 records it: the results part and the ledger."""
    folder = tmp_path_factory.mktemp("rec")
    rec = Recorder(folder / "run", "04_timing", min_cell=K, private_dir=folder / "private")
    rec.count("timing_n_persons", ch.counts["timing_n_persons"], title="t",
              made_by=chapter.timing_chapter)  # fmt: skip
    rec.effects(ch.event_effects, made_by=dy.event_study)
    for key, tests in ch.event_tests.items():
        rec.number(f"es_{key}", tests, title="t", made_by=dy.pretrend_test,
                   reveals=ch.number_facts[f"es_{key}"])  # fmt: skip
    for outcome, boot in ch.event_bootstrap.items():
        rec.number(f"es_ipw_{outcome}_bootstrap", boot, title="t",
                   made_by=dy.event_study_weight_bootstrap,
                   reveals=ch.number_facts[f"es_ipw_{outcome}_bootstrap"])  # fmt: skip
    rec.table("event_study", ch.event_study, title="t", made_by=dy.event_study)
    rec.effects(ch.staggered_effects, made_by=st.att_gt)
    for key, band in ch.staggered_bands_stats.items():
        rec.number(f"cs_{key}_band", band, title="t", made_by=dy.multiplier_bootstrap,
                   reveals=ch.number_facts[f"cs_{key}_band"])  # fmt: skip
    rec.table("staggered_event_time", ch.staggered, title="t", made_by=st.aggregate_event_time)
    rec.number("cs_cohorts_withheld", ch.cohorts_withheld, title="t",
               made_by=params_source("timing.cohort"))  # fmt: skip
    rec.effects(ch.twfe_effects, made_by=dy.twfe)
    rec.number("twfe_weights", ch.twfe_weights, title="t", made_by=dy.twfe_weights,
               reveals=ch.number_facts["twfe_weights"])  # fmt: skip
    rec.table("twfe_weights_by_event_time", ch.twfe_weights_by_event_time, title="t",
              made_by=dy.twfe_weights)  # fmt: skip
    rec.table("staggered_bands", ch.staggered_bands, title="t", made_by=chapter.timing_chapter)
    rec.table("time_to_job_steps", ch.job_steps, title="t", made_by=du.disclosure_steps)
    rec.number("km_job_share", ch.km_job_share, title="t", made_by=du.disclosure_steps,
               reveals=ch.number_facts["km_job_share"])  # fmt: skip
    rec.effects([ch.cox_effect], made_by=du.cox_ph)
    rec.number("cox_hazard_ratio", ch.cox_hazard_ratio, title="t", made_by=du.cox_ph,
               reveals=ch.number_facts["cox_hazard_ratio"])  # fmt: skip
    rec.number("cox_bootstrap", ch.cox_bootstrap, title="t",
               made_by=du.cox_matched_set_bootstrap,
               reveals=ch.number_facts["cox_bootstrap"])  # fmt: skip
    path = rec.save()
    results = json.loads((folder / "run" / path).read_text("utf-8"))
    return results, Ledger.load(ledger_path(folder / "private", "04_timing"))


def _facts_at(ledger: Ledger, *where) -> list:
    return [f for f in ledger if f.where == tuple(where)]


# --- every published value has its facts ---------------------------------------------------
def test_every_fact_names_a_published_value_and_the_audit_reads_them(recorded):
    results, ledger = recorded
    assert len(ledger) > 1000
    for f in ledger:
        locate(results, f.where)  # raises on a path that names nothing
    audit(results, list(ledger), K)


@pytest.mark.parametrize("table", ["event_study", "staggered_event_time", "staggered_bands",
                                   "twfe_weights_by_event_time", "time_to_job_steps"])  # fmt: skip
def test_every_number_in_a_table_has_a_fact(recorded, table):
    results, ledger = recorded
    rows = results["tables"][table]
    assert rows
    index = next(iter(rows[0]))  # the index is written first
    missing = [(row[index], col) for row in rows for col, v in row.items()
               if col != index and isinstance(v, int | float) and not isinstance(v, bool)
               and np.isfinite(v) and not _facts_at(ledger, "tables", table, row_key(row[index]),
                                                    col)]  # fmt: skip
    # the event study's reference month is 0 by construction and the curves start at 0
    # (nobody has a job at month 0): those cells give nobody away
    missing = [m for m in missing if not (table == "event_study" and m[0] == -1)
               and not (table == "time_to_job_steps" and m[0] == 0)]  # fmt: skip
    assert missing == []


def test_every_effect_counts_its_persons(ch, recorded):
    results, ledger = recorded
    effects = [*ch.event_effects, *ch.staggered_effects, *ch.twfe_effects, ch.cox_effect]
    assert len(results["effects"]) == len(effects)
    for i, (row, e) in enumerate(zip(results["effects"], effects, strict=True)):
        for col, ids in zip(("n_treated", "n_control"), e.persons, strict=True):
            (f,) = _facts_at(ledger, "effects", "04_timing", i, col)
            assert f.kind == "count" and f.n == row[col] == len(set(ids)), (row["outcome"], col)


# --- the persons are the right ones ----------------------------------------------------------
def test_the_trimmed_persons_are_counted(ch, persons):
    assert set(ch.counts["timing_n_persons"]) == set(persons["person_id"])


def test_the_matched_samples_are_the_matched_persons(ch, persons):
    matched = persons.loc[persons["match_weight"] > 0]
    mentored = set(matched.loc[matched["treated"] == 1, "person_id"])
    comparison = set(matched.loc[matched["treated"] == 0, "person_id"])
    es = next(e for e in ch.event_effects if e.estimator == "event_study_matched")
    assert set(es.persons[0]) == mentored and set(es.persons[1]) == comparison
    # Cox and Kaplan–Meier: the matched persons whose time to a job is known
    known = matched.loc[matched["months_to_job"].notna()]
    cox = ch.cox_effect
    assert set(cox.persons[0]) == set(known.loc[known["treated"] == 1, "person_id"])
    assert set(cox.persons[1]) == set(known.loc[known["treated"] == 0, "person_id"])
    assert cox.n_treated == len(cox.persons[0]) and cox.n_control == len(cox.persons[1])


def test_the_weighted_samples_rest_on_the_design_subsample(ch, persons):
    sub = persons.loc[persons["in_subsample"]]
    ipw = next(e for e in ch.event_effects if e.estimator == "event_study_ipw")
    assert set(ipw.persons[0]) == set(sub.loc[sub["treated"] == 1, "person_id"])
    assert set(ipw.persons[1]) <= set(sub.loc[sub["treated"] == 0, "person_id"])
    for e in [*ch.staggered_effects, *ch.twfe_effects]:
        assert set(e.persons[0]) <= set(sub.loc[sub["treated"] == 1, "person_id"])
        assert set(e.persons[1]) <= set(sub.loc[sub["treated"] == 0, "person_id"])
    overall = next(e for e in ch.staggered_effects if e.outcome == "employed_q_overall")
    assert set(overall.persons[0]) == set(sub.loc[sub["treated"] == 1, "person_id"])


def test_a_cohorts_estimate_counts_the_cohorts_mentored(ch, persons):
    sub = persons.loc[persons["in_subsample"] & (persons["treated"] == 1)]
    quarter = pd.PeriodIndex(sub["start_month"], freq="M").asfreq("Q").astype(str)
    cohorts = [e for e in ch.staggered_effects if "_cohort" in e.outcome]
    assert cohorts, "the synthetic study has cohorts of at least K mentored"
    for e in cohorts:
        label = e.outcome.split("_cohort")[1]
        assert set(e.persons[0]) == set(sub.loc[quarter == label, "person_id"]), e.outcome
        assert e.n_treated >= K
    small = {q for q, n in quarter.value_counts().items() if n < K}
    assert set(ch.cohorts_withheld["cohorts"]) == small
    assert not any(e.outcome.split("_cohort")[1] in small for e in cohorts)


def test_an_event_time_rests_on_the_persons_observed_then(ch, recorded, inputs):
    """A coefficient at month k since start rests on the persons of its sample with a month
    k in the panel: fewer persons far from start than at start, all of them in the sample."""
    _, ledger = recorded
    es = next(e for e in ch.event_effects if e.estimator == "event_study_matched")
    n_at = {}
    for k in (-12, 0, 24):
        facts = _facts_at(ledger, "tables", "event_study", row_key(k), "matched_employed_estimate")
        assert [f.kind for f in facts] == ["sample", "sample"]
        treated, control = (set(f.persons) for f in facts)
        assert treated <= set(es.persons[0]) and control <= set(es.persons[1])
        n_at[k] = len(treated)
    assert n_at[0] == len(es.persons[0]) >= n_at[24]


def test_a_point_of_the_job_curve_counts_those_with_a_job_by_then(ch, recorded, persons):
    results, ledger = recorded
    matched = persons.loc[(persons["match_weight"] > 0) & persons["months_to_job"].notna()]
    rows = results["tables"]["time_to_job_steps"]
    checked = 0
    for row in rows:
        for label, flag in (("mentored", 1), ("comparison", 0)):
            if row["month"] == 0 or not isinstance(row[label], float):
                continue
            g = matched.loc[matched["treated"] == flag]
            who = g.loc[(g["job_found"] == 1) & (g["months_to_job"] <= row["month"]), "person_id"]
            (f,) = _facts_at(ledger, "tables", "time_to_job_steps", row_key(row["month"]), label)
            assert f.kind == "count" and np.array_equal(f.persons, person_ids(who))
            assert f.n >= K, "a published point follows at least K events"
            assert len(g) - f.n >= K, "and leaves at least K of the group without a job"
            checked += 1
    assert checked >= 2
    # the shares the report reads off the curves count the persons of the point they read
    for label in ("mentored", "comparison"):
        for m, share in ch.km_job_share[label].items():
            facts = _facts_at(ledger, "numbers", "km_job_share", label, m)
            assert (share is None) == (facts == [])


def test_the_figure_tables_hold_what_the_figures_draw(ch):
    bands = ch.staggered_bands.frame
    for outcome in chapter.OUTCOMES:
        assert (bands[f"{outcome}_dr_band_low"] <= bands[f"{outcome}_dr_att"]).all()
        assert (bands[f"{outcome}_dr_att"] <= bands[f"{outcome}_dr_band_high"]).all()
        twfe = next(e for e in ch.twfe_effects if e.outcome.startswith(f"{outcome}_"))
        assert np.allclose(bands[f"{outcome}_twfe"], round(twfe.estimate, 6))
    steps = ch.job_steps.frame
    for group in ("mentored", "comparison"):
        shares = steps[group].dropna()
        assert shares.iloc[0] == 0 and shares.is_monotonic_increasing
