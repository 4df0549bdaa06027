"""The effects chapter function on a small synthetic study (no kernel).

What it publishes and the facts its published values give away: every sample size counts
exactly the persons of its estimate, every count of the ESF indicator table counts the
persons a hand count finds, every fact names a value the recorded results hold (and the
disclosure audit reads them), hidden cells carry their true label, and a site without
``end_month`` gets no ESF indicators but the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluation.chapters import effects as chapter
from evaluation.chapters.design import design_chapter
from evaluation.config import outcome_names
from evaluation.design.sample import build_analysis
from evaluation.disclosure.audit import audit, locate
from evaluation.disclosure.ledger import Ledger, person_ids, row_key
from evaluation.estimate import effects as fx
from evaluation.estimate import esf
from evaluation.estimate.multiplicity import romano_wolf
from evaluation.protocol import Skipped
from evaluation.results.recorder import Recorder, ledger_path
from evaluation.rng import stream
from evaluation.synth import generate

ROOT = Path(__file__).resolve().parents[2]
SEED = 11
K = 5
#: Few draws: the test checks what is published and its facts, not the bootstrap's accuracy.
DRAWS = 19
OUTCOMES = [*outcome_names([6, 12, 24]), "months_to_job", "job_found", "months_after"]


@pytest.fixture(scope="module")
def params():
    doc = yaml.safe_load((ROOT / "params" / "default.yaml").read_text("utf-8"))
    doc["estimation"]["bootstrap"]["draws"] = DRAWS
    doc["estimation"]["permutation_draws"] = DRAWS
    return doc


@pytest.fixture(scope="module")
def inputs(params):
    study = generate(SEED, n_mentored=50, n_comparison=600)
    frame = build_analysis(study.participants, study.monthly,
                           rng=stream(SEED, "pseudo_starts")).frame  # fmt: skip
    covs = frame[[c for c in frame.columns if c not in OUTCOMES]]
    dc = design_chapter(covs, design=params["design"], matching=params["estimation"]["matching"],
                        rng=stream(SEED, "comparison_subsample"), min_cell=K)  # fmt: skip
    monthly = study.monthly[["person_id", "month", "employed"]]
    return covs, frame[["person_id", *OUTCOMES]], dc.hand_over, monthly


def _chapter(inputs, params, **changes):
    covs, outs, dsg, monthly = inputs
    return chapter.effects_chapter(
        changes.get("covariates", covs), outs, dsg, monthly, outcomes=params["outcomes"],
        design=params["design"], estimation=changes.get("estimation", params["estimation"]),
        bootstrap_rng=stream(SEED, "weighted_bootstrap"), permutation_rng=stream(SEED, "perm"),
        min_cell=K,
    )  # fmt: skip


@pytest.fixture(scope="module")
def ch(inputs, params):
    return _chapter(inputs, params)


@pytest.fixture(scope="module")
def recorded(ch, tmp_path_factory):
    """The chapter recorded as notebook 03 records it: the results part and the ledger."""
    folder = tmp_path_factory.mktemp("rec")
    rec = Recorder(folder / "run", "03_effects", min_cell=K, private_dir=folder / "private")
    rec.effects(ch.results, made_by=fx.estimate_study)
    rec.table("effects", ch.effects, title="t", made_by=fx.effects_table)
    rec.number("se_methods", ch.se_methods, title="t", made_by=fx.se_labels)
    rec.number("weighted_bootstrap", ch.bootstrap, title="t", made_by=fx.bootstrap_study)
    rec.number("esf_outcome", ch.esf_outcome, title="t", made_by=esf.build_leaving_outcomes)
    rec.table("esf_indicator", ch.esf_indicator, title="t", made_by=esf.indicator_counts)
    rec.effects(ch.esf_results, made_by=esf.estimate_indicators)
    rec.table("esf_by_sex", ch.esf_by_sex, title="t", made_by=esf.estimate_indicators)
    rec.number("esf_sex_difference", ch.esf_sex_difference, title="t",
               made_by=fx.sex_difference, reveals=ch.esf_difference_facts)  # fmt: skip
    rec.number("multiplicity", ch.multiplicity, title="t", made_by=romano_wolf,
               reveals=ch.multiplicity_facts)  # fmt: skip
    rec.table("effects_multiplicity", ch.multiplicity_table, title="t", made_by=romano_wolf)
    rec.number("headline_permutation", ch.permutation, title="t",
               made_by=fx.randomisation_headline, reveals=ch.permutation_facts)  # fmt: skip
    rec.table("effects_headline", ch.headline, title="t", made_by=chapter.effects_chapter)
    path = rec.save()
    results = json.loads((folder / "run" / path).read_text("utf-8"))
    return results, Ledger.load(ledger_path(folder / "private", "03_effects"))


def _facts_at(ledger: Ledger, *where) -> list:
    return [f for f in ledger if f.where == tuple(where)]


# --- what the chapter publishes ------------------------------------------------------------
def test_every_fact_names_a_published_value_and_the_audit_reads_them(recorded):
    results, ledger = recorded
    assert len(ledger) > 300
    for f in ledger:
        locate(results, f.where)  # raises on a path that names nothing
    audit(results, list(ledger), K)


#: Counts of persons an effect's spec publishes (the audit must know each of them).
SPEC_COUNTS = (("n_unmatched_treated",), ("n_missing_outcome_dropped",),
               ("propensity", "n_obs"), ("propensity", "n_treated"))  # fmt: skip


def test_every_count_in_an_effects_spec_is_known_to_the_audit(recorded):
    """``spec.n_unmatched_treated`` and the propensity model's counts are published with each
    matching, IPW and AIPW estimate. They were once unknown to the audit, so a hidden matched
    count (42) could be given back as ``spec.propensity.n_treated - spec.n_unmatched_treated``
    (50 - 8) whatever the audit decided. Each must be a fact whose persons it counts."""
    results, ledger = recorded
    seen = dict.fromkeys(SPEC_COUNTS, 0)
    for i, e in enumerate(results["effects"]):
        for path in SPEC_COUNTS:
            value = e["spec"]
            for part in path:
                value = value.get(part) if isinstance(value, dict) else None
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            facts = _facts_at(ledger, "effects", "03_effects", i, "spec", *path)
            assert len(facts) == 1, (e["estimator"], e["outcome"], e["subgroup"], path)
            assert facts[0].kind == "count" and facts[0].n == value, (e["estimator"], path)
            seen[path] += 1
    assert all(seen.values()), seen  # every kind of count was met and checked


#: Skipped entries of single subgroup levels (too few persons, or no design within the level).
LEVELS = ("subgroup:", "subgroup_design:")


def test_nothing_is_skipped_and_every_section_is_there(ch):
    assert {k: v for k, v in ch.skipped.items() if not k.startswith(LEVELS)} == {}
    for name in ("bootstrap", "esf_indicator", "esf_by_sex", "esf_sex_difference",
                 "multiplicity", "permutation", "subgroup_tests"):  # fmt: skip
        assert not isinstance(getattr(ch, name), Skipped), name
    # a withheld level is not among the estimates; every estimated one is
    estimated = {r.subgroup for r in ch.results if r.subgroup != "all"}
    withheld = {k.split(":", 1)[1] for k in ch.skipped if k.startswith(LEVELS)}
    assert estimated and not estimated & withheld
    assert ch.bootstrap["draws"] == DRAWS and ch.bootstrap["n_checked"] > 0


@pytest.mark.parametrize("key", ["effects", "esf_by_sex", "effects_headline"])
def test_every_sample_size_counts_the_persons_of_its_estimate(ch, recorded, key):
    results, ledger = recorded
    rows = results["tables"][key]
    assert rows
    estimates = {(r.outcome, r.estimator, r.subgroup): r for r in [*ch.results, *ch.esf_results]}
    for row in rows:
        if key == "effects_headline":
            index = row["estimator"]
            r = estimates[ch.spec.headline_outcome, row["estimator"], "all"]
        else:
            index = row_key((row["outcome"], row["estimator"], row["subgroup"]))
            r = estimates[row["outcome"], row["estimator"], row["subgroup"]]
        for col, persons in zip(("n_treated", "n_control"), r.persons, strict=True):
            (f,) = _facts_at(ledger, "tables", key, index, col)
            assert f.kind == "count" and f.n == row[col] == len(set(persons)), (index, col)
            assert np.array_equal(f.persons, person_ids(persons))
        for col in chapter.STATISTICS:  # a statistic rests on both groups
            facts = _facts_at(ledger, "tables", key, index, col)
            assert [f.kind for f in facts] == ["sample", "sample"], (index, col)


def test_the_esf_estimates_by_sex_rest_on_persons_of_that_sex(ch, inputs):
    covs = inputs[0]
    sex = dict(zip(covs["person_id"], covs["sex"], strict=True))
    for r in ch.esf_results:
        if r.subgroup.startswith("sex="):
            want = r.subgroup.removeprefix("sex=")
            assert {sex[p] for p in np.concatenate(r.persons)} == {want}


def _employed_after_leaving(covs: pd.DataFrame, monthly: pd.DataFrame, after: int) -> pd.DataFrame:
    """Mentored persons with an end month, and their status ``after`` months later (by hand)."""
    m = covs.loc[(covs["treated"] == 1) & covs["end_month"].notna(), ["person_id", "sex",
                                                                       "end_month"]]  # fmt: skip
    month = pd.PeriodIndex(m["end_month"], freq="M") + after
    target = m.assign(month=month.strftime("%Y-%m"))
    return target.merge(monthly, on=["person_id", "month"], how="inner")


def test_the_indicator_table_counts_the_persons_a_hand_count_finds(ch, recorded, inputs):
    results, ledger = recorded
    covs, _, _, monthly = inputs
    rows = {(r["indicator"], r["subgroup"]): r for r in results["tables"]["esf_indicator"]}
    assert len(rows) == 6
    for name, after in (("employed_at_leaving", 1), ("employed_after_leaving_m6", 6)):
        hand = _employed_after_leaving(covs, monthly, after)
        for group, sex in (("all", None), ("sex=female", "female"), ("sex=male", "male")):
            mine = hand if sex is None else hand.loc[hand["sex"] == sex]
            employed = mine.loc[mine["employed"] == 1, "person_id"]
            row = rows[name, group]
            key = row_key((name, group))
            # counts are published as text after disclosure control (as every count table)
            assert int(row["leavers"]) == len(mine) and int(row["employed"]) == len(employed)
            assert row["share"] == pytest.approx(len(employed) / len(mine), abs=5e-5)
            (left,) = _facts_at(ledger, "tables", "esf_indicator", key, "leavers")
            assert set(left.persons) == set(mine["person_id"])
            for col in ("employed", "share"):  # a share of a published total gives its count
                (f,) = _facts_at(ledger, "tables", "esf_indicator", key, col)
                assert f.kind == "count" and set(f.persons) == set(employed), (key, col)


def test_the_sex_difference_rests_on_both_samples(ch, recorded):
    results, ledger = recorded
    longer = [r for r in ch.esf_results if r.outcome == esf.LONGER_TERM
              and r.estimator == ch.spec.headline_estimator and r.subgroup != "all"]  # fmt: skip
    assert len(longer) == 2
    everyone = set(np.concatenate([np.concatenate(r.persons) for r in longer]))
    for col in chapter.STATISTICS:
        facts = _facts_at(ledger, "numbers", "esf_sex_difference", col)
        assert {f.kind for f in facts} == {"sample"}
        assert set(np.concatenate([f.persons for f in facts])) == everyone
    w, m = (
        (r for r in longer if r.subgroup == "sex=female"),
        (r for r in longer if r.subgroup == "sex=male"),
    )
    w, m = next(w), next(m)
    assert results["numbers"]["esf_sex_difference"]["estimate"] == pytest.approx(
        w.estimate - m.estimate)  # fmt: skip


def test_the_randomisation_test_counts_the_persons_it_redraws(ch, recorded, inputs):
    results, ledger = recorded
    sample = fx.analysis_sample(*inputs[:3])
    redrawn = set(sample.loc[sample["in_subsample"], "person_id"])
    (n,) = _facts_at(ledger, "numbers", "headline_permutation", "n_persons")
    assert n.kind == "count" and set(n.persons) == redrawn
    assert results["numbers"]["headline_permutation"]["n_persons"] == len(redrawn)


def test_romano_wolf_p_values_rest_on_the_headline_samples(ch, recorded):
    results, ledger = recorded
    table = results["tables"]["effects_multiplicity"]
    assert {r["hypothesis"] for r in table} == set(ch.multiplicity["outcomes"])
    for outcome in ch.multiplicity["outcomes"]:
        facts = _facts_at(ledger, "numbers", "multiplicity", "p_romano_wolf", outcome)
        assert [f.kind for f in facts] == ["sample", "sample"]


def test_the_headline_table_lists_the_estimators_in_the_parameters_order(ch, params):
    assert list(ch.headline.frame.index) == params["estimation"]["estimators"]
    assert list(ch.headline.frame.columns) == list(chapter.HEADLINE_COLUMNS)


# --- small groups, no leavers, no draws ----------------------------------------------------
def test_a_small_group_of_leavers_is_hidden_with_its_true_label():
    ids = np.array([f"p{i}" for i in range(20)])
    counts = esf.IndicatorCounts()
    for name in esf.INDICATORS:
        # 17 women (9 in work), 3 men (2 in work): the men's counts are <5, the women's are
        # hidden to protect them (the total is published), shares follow their counts
        counts.leavers[name, "sex=female"], counts.leavers[name, "sex=male"] = ids[:17], ids[17:]
        counts.employed[name, "sex=female"] = ids[:9]
        counts.employed[name, "sex=male"] = ids[17:19]
        counts.leavers[name, "all"], counts.employed[name, "all"] = ids, np.r_[ids[:9], ids[17:19]]
    table = chapter._indicator_table(counts, K)
    frame = table.frame.loc[esf.LONGER_TERM]
    assert frame.loc["sex=male", "leavers"] == "<5" and frame.loc["sex=male", "employed"] == "<5"
    assert frame.loc["sex=male", "share"] == f"withheld (n<{K})"
    assert frame.loc["sex=female", "leavers"] == ".." and frame.loc["sex=female", "share"] == ".."
    assert int(frame.loc["all", "leavers"]) == 20 and frame.loc["all", "share"] == pytest.approx(
        0.55
    )
    # the hidden cells keep their facts: the audit knows what they would have given away
    male = row_key((esf.LONGER_TERM, "sex=male"))
    assert {f.n for f in table.facts if f.where == (male, "leavers")} == {3}


def test_without_end_months_the_esf_indicators_are_skipped_with_the_reason(inputs, params):
    covs = inputs[0].assign(end_month=None)
    estimation = {
        **params["estimation"],
        "bootstrap": {**params["estimation"]["bootstrap"], "draws": 0},
        "permutation_draws": 0,
    }
    out = _chapter(inputs, params, covariates=covs, estimation=estimation)
    assert {k for k in out.skipped if not k.startswith(LEVELS)} == {
        "esf_indicators", "multiplicity", "headline_permutation"}  # fmt: skip
    assert "end_month" in out.skipped["esf_indicators"]
    for name in ("esf_outcome", "esf_indicator", "esf_results", "esf_by_sex",
                 "esf_sex_difference"):  # fmt: skip
        assert getattr(out, name) == Skipped(out.skipped["esf_indicators"]), name
    assert out.multiplicity == Skipped(out.skipped["multiplicity"])
    assert out.permutation == Skipped(out.skipped["headline_permutation"])
    assert isinstance(out.bootstrap, Skipped)
    overall = [r for r in out.results if r.subgroup == "all"]  # the subgroup levels follow
    assert len(overall) == len(ch_results_expected(params))


def test_a_skipped_exhibit_registers_nothing_and_shows_its_reason(tmp_path):
    rec = Recorder(tmp_path / "run", "03_effects", min_cell=K, private_dir=tmp_path / "p")
    why = Skipped("estimation.permutation_draws is 0")
    assert rec.number("headline_permutation", why, title="t", made_by=fx.sex_difference) is why
    assert rec.table("esf_by_sex", why, title="t", made_by=fx.effects_table).empty
    assert rec.effects(why).empty
    assert rec.plot("esf_plot", lambda t, **o: None, "esf_by_sex", title="t", alt="a") is None
    for key in ("headline_permutation", "esf_by_sex", "esf_plot"):
        shown = rec.show(key)._repr_mimebundle_()[0]["text/plain"]
        assert shown == f"not computed: {why.reason}"
    results = json.loads((tmp_path / "run" / rec.save()).read_text("utf-8"))
    assert results["numbers"] == {} and results["tables"] == {} and results["effects"] == []
    assert results["exhibits"] == []


def ch_results_expected(params) -> list[tuple[str, str]]:
    """Every estimator on every outcome of the parameters (the chapter's ``results``)."""
    outcomes = outcome_names(list(params["outcomes"]["horizons"]))
    return [(o, e) for o in outcomes for e in params["estimation"]["estimators"]]
