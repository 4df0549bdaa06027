"""The robustness chapter function on a small synthetic study (no kernel).

What it publishes and the facts its published values give away: every count of persons and
every sample size has a fact with exactly the persons it counts (checked against the data),
every fact names a value the recorded results hold, small specifications are withheld, and
an E-value that cannot exist is withheld with its reason instead of stopping the notebook.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.chapters import costs as cost_chapter
from evaluation.chapters import robustness as chapter
from evaluation.chapters.design import design_chapter
from evaluation.config import Params, outcome_names
from evaluation.design.sample import build_analysis
from evaluation.disclosure.audit import audit, locate
from evaluation.disclosure.ledger import Ledger, person_ids, row_key
from evaluation.estimate import effects as fx
from evaluation.estimate.results import EffectResult
from evaluation.results.recorder import Recorder, ledger_path
from evaluation.rng import stream
from evaluation.robustness import speccurve as sc
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[2]
SEED = 11
K = 5
#: A grid of four specifications: two horizons' IPW with and without trimming (nested
#: samples), and matching with one and four neighbours.
GRID = """
horizons: [6, 12]
estimators: [matching, ipw]
covariate_sets:
  small: [age, sex, pre_months_employed_12, pre_employed_m1]
trimming: [none, common_support]
matching:
  neighbours: [1, 4]
  caliper: [0.2]
"""
OUTCOMES = [*outcome_names([6, 12, 24]), "months_to_job", "job_found", "months_after"]


@pytest.fixture(scope="module")
def params(tmp_path_factory):
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    grid = tmp_path_factory.mktemp("grid") / "grid.yaml"
    grid.write_text(GRID, "utf-8")
    doc["robustness"] |= {"specifications": str(grid), "workers": 2}
    # as the runner hands them to notebooks 06 and 07: the report section carries the
    # programme's budget and planned participants (``report["budget_sek"]``)
    return Params.model_validate(doc).notebook_parameters()


@pytest.fixture(scope="module")
def inputs(params):
    study = generate(SEED, n_mentored=50, n_comparison=600)
    frame = build_analysis(study.participants, study.monthly,
                           rng=stream(SEED, "pseudo_starts")).frame  # fmt: skip
    covs = frame[[c for c in frame.columns if c not in OUTCOMES]]
    dc = design_chapter(covs, design=params["design"], matching=params["estimation"]["matching"],
                        rng=stream(SEED, "comparison_subsample"), min_cell=K)  # fmt: skip
    return {"covariates": covs, "outcomes_data": frame[["person_id", *OUTCOMES]],
            "design_hand_over": dc.hand_over, "monthly": study.monthly,
            "participants": study.participants}  # fmt: skip


@pytest.fixture(scope="module")
def ch(inputs, params):
    return chapter.robustness_chapter(
        inputs["covariates"], inputs["outcomes_data"], inputs["design_hand_over"],
        inputs["monthly"], outcomes=params["outcomes"], design=params["design"],
        estimation=params["estimation"], robustness=params["robustness"], costs=params["costs"],
        min_cell=K, progress=lambda done, total: None,
    )  # fmt: skip


@pytest.fixture(scope="module")
def costs(inputs, params):
    """The costs chapter (notebook 07) on the same hand-over."""
    return cost_chapter.costs_chapter(
        inputs["covariates"], inputs["outcomes_data"], inputs["design_hand_over"],
        inputs["participants"], outcomes=params["outcomes"], design=params["design"],
        estimation=params["estimation"], costs=params["costs"], report=params["report"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def sample(inputs, params):
    return fx.analysis_sample(inputs["covariates"], inputs["outcomes_data"],
                              inputs["design_hand_over"])  # fmt: skip


@pytest.fixture(scope="module")
def recorded(ch, costs, tmp_path_factory):
    """The chapter recorded as notebook 06 records it (and the costs, as notebook 07 does, in
    the same part): the results part and the ledger."""
    folder = tmp_path_factory.mktemp("rec")
    rec = Recorder(folder / "run", "06_robustness", min_cell=K, private_dir=folder / "private")
    rec.table("power_mde", ch.power_table, title="t", made_by=chapter.power_section)
    rec.number("power", ch.power, title="t", made_by=chapter.power_section,
               reveals=ch.facts["power"])  # fmt: skip
    rec.effects(ch.placebos, made_by=chapter.placebo_section)
    for key, persons in ch.counts.items():
        rec.count(key, persons, title="t", made_by=chapter.robustness_chapter)
    rec.number("placebo_summary", ch.placebo_summary, title="t", made_by=chapter.placebo_section)
    rec.table("placebo_effects", ch.placebo_table, title="t", made_by=chapter.effects_published)
    rec.number("evalue", ch.evalue, title="t", made_by=chapter.hidden_confounding,
               reveals=ch.facts["evalue"])  # fmt: skip
    rec.number("rosenbaum", ch.rosenbaum, title="t", made_by=chapter.hidden_confounding,
               reveals=ch.facts["rosenbaum"])  # fmt: skip
    rec.table("rosenbaum_curve", ch.rosenbaum_curve, title="t",
              made_by=chapter.hidden_confounding)  # fmt: skip
    rec.number("spec_curve_summary", ch.spec_summary, title="t", made_by=sc.summarise,
               reveals=ch.facts["spec_curve_summary"])  # fmt: skip
    rec.table("spec_curve_estimates", ch.spec_table, title="t",
              made_by=chapter.spec_curve_tables)  # fmt: skip
    rec.number("ovb", ch.ovb, title="t", made_by=chapter.omitted_confounding,
               reveals=ch.facts["ovb"])  # fmt: skip
    rec.table("ovb_bounds", ch.ovb_bounds, title="t", made_by=chapter.omitted_confounding)
    rec.table("ovb_grid", ch.ovb_contour, title="t", made_by=chapter.omitted_confounding)
    rec.count("costs_served", costs.served, title="t", made_by=cost_chapter.costs_chapter)
    rec.number("costs", costs.costs, title="t", made_by=cost_chapter.costs_section,
               reveals=costs.facts)  # fmt: skip
    path = rec.save()
    results = json.loads((folder / "run" / path).read_text("utf-8"))
    return results, Ledger.load(ledger_path(folder / "private", "06_robustness"))


def _facts_at(ledger: Ledger, *where) -> list:
    return [f for f in ledger if f.where == tuple(where)]


# --- what the chapter publishes ------------------------------------------------------------
def test_every_fact_names_a_published_value_and_the_audit_reads_them(recorded):
    results, ledger = recorded
    assert len(ledger) > 500
    for f in ledger:
        locate(results, f.where)  # raises on a path that names nothing
    audit(results, list(ledger), K)


def test_every_sample_size_of_the_placebo_table_counts_its_persons(ch, recorded, sample):
    results, ledger = recorded
    mentored = set(sample.loc[sample["treated"] == 1, "person_id"])
    rows = results["tables"]["placebo_effects"]
    assert len(rows) == len(ch.placebos) > 0
    for row, r in zip(rows, ch.placebos, strict=True):
        key = row_key((row["outcome"], row["estimator"], row["subgroup"]))
        for col, persons in zip(("n_treated", "n_control"), r.persons, strict=True):
            (f,) = [f for f in _facts_at(ledger, "tables", "placebo_effects", key, col)]
            assert f.kind == "count" and f.n == row[col] == len(set(persons))
            assert np.array_equal(f.persons, person_ids(persons))
        assert set(r.persons[0]) <= mentored, "a placebo's treated are mentored persons"
        for col in chapter.STATISTICS:  # the estimate rests on both groups
            kinds = {f.kind for f in _facts_at(ledger, "tables", "placebo_effects", key, col)}
            assert kinds == {"sample"}
    # the estimates in results.json carry the same persons
    for i, r in enumerate(ch.placebos):
        (f,) = _facts_at(ledger, "effects", "06_robustness", i, "n_treated")
        assert f.n == r.n_treated and np.array_equal(f.persons, person_ids(r.persons[0]))


def test_the_fake_start_counts_its_own_persons(ch):
    fake = [r for r in ch.placebos if r.estimator.startswith("placebo_fake_start_")]
    assert fake
    left_out = set(ch.counts["placebo_fake_dropped_treated"]) | set(
        ch.counts["placebo_fake_dropped_control"])  # fmt: skip
    for r in fake:  # persons without a year before the fake start are in no fake-start sample
        assert not (set(r.persons[0]) | set(r.persons[1])) & left_out


def test_every_specification_counts_its_persons_brought_back_from_its_process(
    ch, recorded, inputs, params
):
    results, ledger = recorded
    rows = results["tables"]["spec_curve_estimates"]
    # the table keeps its layout: the choices first, in the grid's order, then the estimate
    assert list(rows[0]) == [*chapter.SPEC_INDEX, *chapter.STATISTICS, "n_treated",
                             "n_control", "error"]  # fmt: skip
    grid = sc.read_grid(params["robustness"]["specifications"])
    sub = set(inputs["design_hand_over"].loc[inputs["design_hand_over"]["in_subsample"],
                                             "person_id"])  # fmt: skip
    everyone = inputs["covariates"].merge(inputs["outcomes_data"], on="person_id")
    everyone = everyone.loc[everyone["person_id"].isin(sub)].reset_index(drop=True)
    for row, spec in zip(rows, grid.specifications, strict=True):
        key = row_key(tuple(row[c] for c in chapter.SPEC_INDEX))
        again = sc.estimate_specification(everyone, spec, grid.covariate_sets[spec.covariate_set],
                                          exact="start_quarter")  # fmt: skip
        for col, persons in zip(("n_treated", "n_control"), again.persons, strict=True):
            (f,) = _facts_at(ledger, "tables", "spec_curve_estimates", key, col)
            assert f.n == row[col], (key, col)
            assert np.array_equal(f.persons, person_ids(persons)), (key, col)
    # trimming removes persons: the trimmed IPW sample lies inside the untrimmed one
    for h in (6, 12):
        sets = {tr: set(_facts_at(ledger, "tables", "spec_curve_estimates", row_key(
            (f"employed_m{h}", h, "ipw", "small", tr, None, None)), "n_treated")[0].persons)
            for tr in ("none", "common_support")}  # fmt: skip
        assert sets["common_support"] <= sets["none"]


def test_the_summary_rests_on_the_specifications_it_quotes(ch, recorded):
    results, ledger = recorded
    rows = results["tables"]["spec_curve_estimates"]
    low = min(rows, key=lambda r: r["estimate"])
    (treated,) = [f for f in _facts_at(ledger, "numbers", "spec_curve_summary", "low")
                  if f.n == low["n_treated"]]  # fmt: skip
    assert treated.kind == "sample"
    assert results["numbers"]["spec_curve_summary"]["low"] == pytest.approx(low["estimate"],
                                                                            abs=5e-5)  # fmt: skip


def test_counts_of_pairs_count_the_mentored_persons_of_those_pairs(ch, sample):
    mentored = set(sample.loc[sample["treated"] == 1, "person_id"])
    pairs = set(ch.counts["rosenbaum_pairs"])
    discordant = set(ch.counts["rosenbaum_discordant"])
    treated_only = set(ch.counts["rosenbaum_treated_only"])
    assert treated_only <= discordant <= pairs <= mentored
    assert len(pairs) == len(ch.counts["rosenbaum_pairs"])  # one pair per mentored person
    n_t = len(treated_only)
    p = ch.rosenbaum["pairs_estimate"] * len(pairs)
    assert p == pytest.approx(n_t - (len(discordant) - n_t))  # T minus the other discordant


def test_persons_served_and_left_out_are_the_right_ones(ch, costs, inputs, params):
    part = inputs["participants"]
    assert set(costs.served) == set(part.loc[part["group"] == "mentored", "person_id"])
    served = len(costs.served)
    assert costs.costs["cost_per_participant"] == pytest.approx(params["report"]["budget_sek"]
                                                                / served)  # fmt: skip
    left_out = set(ch.counts["placebo_fake_dropped_control"])
    analysed = set(inputs["covariates"]["person_id"])
    assert left_out <= analysed
    assert not left_out & set(part.loc[part["group"] == "mentored", "person_id"])


def test_the_power_inputs_count_the_matched_persons(ch, recorded, sample):
    results, ledger = recorded
    matched_t = person_ids(sample.loc[(sample["match_weight"] > 0) & (sample["treated"] == 1)])
    (n,) = _facts_at(ledger, "numbers", "power", "n_treated")
    assert n.kind == "count" and np.array_equal(n.persons, matched_t)
    assert results["numbers"]["power"]["n_treated"] == len(matched_t)
    # the MDE and the design effect give the number back with the ESS: the same count fact
    for where in (("design_effect",), ("costs_horizon_mde",), ("by_horizon", "12", "mde")):
        counts = [f for f in _facts_at(ledger, "numbers", "power", *where) if f.kind == "count"]
        assert [f.n for f in counts] == [len(matched_t)], where
    for col in ("mde", "se"):
        counts = [f for f in _facts_at(ledger, "tables", "power_mde", "12", col)
                  if f.kind == "count"]  # fmt: skip
        assert [f.n for f in counts] == [len(matched_t)], col


def test_the_evalue_baseline_counts_the_employed_mentored_it_implies(ch, recorded, sample):
    results, ledger = recorded
    h = ch.headline
    employed = set(sample.loc[sample["employed_m12"] == 1, "person_id"]) & set(h.persons[0])
    (f,) = _facts_at(ledger, "numbers", "evalue", "baseline")
    assert f.kind == "count" and set(f.persons) == employed
    ev = results["numbers"]["evalue"]
    # what a reader does: baseline + estimate is the share employed among the matched mentored
    assert (ev["baseline"] + ev["rd"]) * h.n_treated == pytest.approx(len(employed))


# --- small groups and impossible E-values --------------------------------------------------
def _curve(n_treated: list[int]) -> sc.SpecCurve:
    n = len(n_treated)
    rng = np.random.default_rng(1)
    ids = [(np.array([f"T{j}" for j in range(t)]), np.array([f"C{j}" for j in range(40)]))
           for t in n_treated]  # fmt: skip
    table = pd.DataFrame({
        "outcome": ["employed_m12"] * n, "horizon": [12] * n, "estimator": ["ipw"] * n,
        "covariate_set": ["small"] * n, "trimming": [f"t{i}" for i in range(n)],
        "neighbours": pd.array([None] * n, dtype="Int64"), "caliper": [None] * n,
        "estimate": rng.normal(0.1, 0.02, n), "se": [0.05] * n, "ci_low": [0.0] * n,
        "ci_high": [0.2] * n, "p_value": [0.04] * n, "n_treated": n_treated, "n_control": [40] * n,
        "error": [None] * n,
    })  # fmt: skip
    return sc.SpecCurve(table, 1.0, 1, 1, persons=tuple(ids))


def test_a_specification_on_fewer_than_k_persons_is_withheld_and_its_size_suppressed():
    out = chapter.spec_curve_tables(_curve([50, 3, 49]), 0.1, alpha=0.05, min_cell=K)
    shown = out.table.frame.reset_index()
    assert shown.loc[1, "n_treated"] == f"<{K}" and np.isnan(shown.loc[1, "estimate"])
    assert shown.loc[1, "error"] == f"withheld: fewer than {K} persons in a group"
    assert shown.loc[0, "n_treated"] == 50 and shown.loc[2, "n_treated"] == 49
    assert out.n_withheld == 1 and out.summary.n_failed == 1
    # every size has its persons, the withheld one too (the audit reads it as hidden)
    sizes = {f.where: f.n for f in out.table.facts if f.where[1] == "n_treated"}
    assert sorted(sizes.values()) == [3, 49, 50]


def _hand_made(y_treated: list[int], y_control: list[int]) -> pd.DataFrame:
    n1, n0 = len(y_treated), len(y_control)
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "person_id": [f"T{i}" for i in range(n1)] + [f"C{i}" for i in range(n0)],
        "treated": [1] * n1 + [0] * n0, "employed_m12": y_treated + y_control,
        "age": rng.normal(40, 5, n1 + n0), "logit": rng.normal(0, 1, n1 + n0),
        "start_quarter": ["2019Q1"] * (n1 + n0),
    })  # fmt: skip


def _headline(frame: pd.DataFrame, estimate: float) -> EffectResult:
    t = frame.loc[frame["treated"] == 1, "person_id"].to_numpy()
    c = frame.loc[frame["treated"] == 0, "person_id"].to_numpy()
    return EffectResult.from_normal(
        estimate=estimate, se=0.05, outcome="employed_m12", estimator="ra", estimand="ATT",
        n_treated=len(t), n_control=len(c), persons=(t, c),
    )  # fmt: skip


def _spec() -> fx.EffectsSpec:
    return fx.EffectsSpec.from_params(
        {"covariates": ["age"], "exact": "start_quarter", "trimming": "none"},
        {"estimators": ["ra"], "headline": {"estimator": "ra", "outcome": "employed_m12"},
         "matching": {"neighbours": 1, "replace": True, "caliper": None,
                      "bias_correction": False}, "level": 0.95},
    )  # fmt: skip


SECTIONS = {"design": {"exact": "start_quarter"},
            "estimation": {"level": 0.95, "matching": {"caliper": None}},
            "robustness": {"rosenbaum_gamma_max": 2.0}}  # fmt: skip


def test_an_estimate_that_implies_no_risk_ratio_withholds_the_evalue_with_its_reason():
    # every mentored person employed, no comparison person: an ATT of 1 leaves the mentored a
    # counterfactual share of 0, for which no risk ratio exists (evalue_att raises)
    frame = _hand_made([1] * 12, [0] * 20)
    out = chapter.hidden_confounding(frame, _headline(frame, 1.0), _spec(), **SECTIONS)
    assert out.evalue is None and "evalue" not in out.facts
    assert out.skipped == {"evalue": chapter.EVALUE_NO_RATIO}
    assert not re.search(r"\d[.,]\d", out.skipped["evalue"]), "no share (a count) in the reason"
    # the Rosenbaum bounds do not need the ratio and are still given
    assert out.rosenbaum is not None and out.rosenbaum["p_at_1"] < 0.001
    assert len(out.counts["rosenbaum_treated_only"]) == 12


def test_a_possible_evalue_is_given():
    frame = _hand_made([1] * 8 + [0] * 4, [1] * 6 + [0] * 14)
    out = chapter.hidden_confounding(frame, _headline(frame, 0.2), _spec(), **SECTIONS)
    assert out.skipped == {} and out.evalue["baseline"] == pytest.approx(8 / 12 - 0.2)


def test_a_headline_outcome_that_is_not_binary_skips_both_with_the_reason():
    frame = _hand_made([1] * 12, [0] * 20)
    frame["employed_m12"] = frame["employed_m12"] * 1.5
    out = chapter.hidden_confounding(frame, _headline(frame, 0.2), _spec(), **SECTIONS)
    assert out.evalue is None and out.rosenbaum is None and out.curve is None
    assert out.skipped == {"sensitivity_binary": chapter.NOT_BINARY}


def test_the_costs_price_the_effect_every_estimator_run_gives(costs, sample, params):
    """Notebook 07 estimates the headline estimator alone: the number of the full run."""
    spec = fx.EffectsSpec.from_params(params["design"], params["estimation"])
    outcome = f"employed_m{params['costs']['horizon']}"
    (full,) = [r for r in fx.estimate_study(sample, [outcome], spec)
               if r.estimator == spec.headline_estimator]  # fmt: skip
    assert len(spec.estimators) > 1
    assert costs.effect.estimator == spec.headline_estimator
    for name in ("estimate", "se", "ci_low", "ci_high", "n_treated", "n_control"):
        assert getattr(costs.effect, name) == getattr(full, name), name
    assert costs.costs["effect"] == full.estimate
    assert costs.costs["effect_low"] == full.ci_low and costs.costs["effect_high"] == full.ci_high


def test_the_omitted_confounder_analysis_is_of_the_regression_estimate(ch, recorded, sample,
                                                                       params):  # fmt: skip
    """Cinelli-Hazlett on the study's regression estimator: same estimate, same persons."""
    spec = fx.EffectsSpec.from_params(params["design"], params["estimation"])
    (reg,) = [r for r in fx.estimate_study(sample, [spec.headline_outcome], spec)
              if r.estimator == "regression"]  # fmt: skip
    assert ch.ovb["estimate"] == pytest.approx(reg.estimate, rel=1e-12)
    assert ch.ovb["benchmarks"] == params["robustness"]["ovb_benchmarks"]
    assert 0 <= ch.ovb["rv_qa"] <= ch.ovb["rv_q"] < 1
    results, ledger = recorded
    treated, control = reg.persons
    for name in ("estimate", "rv_q", "r2yd_x"):
        got = sorted(tuple(f.persons) for f in _facts_at(ledger, "numbers", "ovb", name))
        assert got == sorted([tuple(np.sort(treated)), tuple(np.sort(control))]), name
    (df,) = _facts_at(ledger, "numbers", "ovb", "df")
    assert df.kind == "count" and df.n == len(treated) + len(control)
    bounds = results["tables"]["ovb_bounds"]
    assert [r["kd"] for r in bounds] == params["robustness"]["ovb_multiples"]
    # a stronger confounder moves the estimate further towards zero
    moved = [abs(r["adjusted_estimate"]) for r in bounds]
    assert moved == sorted(moved, reverse=True) and moved[0] < abs(ch.ovb["estimate"])
    grid = results["tables"]["ovb_grid"]
    assert len(grid) == chapter.OVB_STEPS**2 + 1 + len(bounds)
    facts = [f for f in ledger if f.where[:2] == ("tables", "ovb_grid")]
    assert len(facts) == 2 * 2 * len(grid)  # two columns, mentored and comparison
