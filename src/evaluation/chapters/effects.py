"""The effects chapter (notebook 03): the ATT by every estimator, the ESF indicators, inference.

The numbers happen in :mod:`evaluation.estimate.effects` (every estimator on every outcome,
the weighted bootstrap, Romano-Wolf p-values, the randomisation test) and
:mod:`evaluation.estimate.esf` (the ESF common result indicators on employment as ESF
defines them, by sex); this module turns them into what the report publishes, each table
after primary disclosure control and with the facts its cells give away
(:mod:`evaluation.disclosure.ledger`), so that the run's disclosure audit can check them
against every other published number:

* an estimate's sample sizes count its treated and control persons (``count``); the
  estimate, its SE, interval and p-value are statistics on them (``sample``);
* a count of ESF leavers or of leavers in work counts them; a share counts its numerator;
* the women-men difference rests on the women's and the men's samples (``sample``);
* the randomisation test's ``n_persons`` counts the persons it redraws assignments for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.config import outcome_names
from evaluation.data.describe import protect_margined
from evaluation.data.outcomes import LEAVING_OUTCOMES
from evaluation.design.study import TREATMENT
from evaluation.disclosure.audit import is_hidden
from evaluation.disclosure.ledger import Fact, PublishedTable, fact, row_key
from evaluation.disclosure.rules import SECONDARY_LABEL, withheld_label
from evaluation.errors import EvaluationError
from evaluation.estimate import effects as fx
from evaluation.estimate import esf
from evaluation.estimate.results import EffectResult
from evaluation.estimate.subgroups import Subgroups, subgroup_effects
from evaluation.protocol import Result, Skipped, private, produced_by

#: The statistics of an effect, published beside its sample sizes.
STATISTICS = ("estimate", "se", "ci_low", "ci_high", "p_value")
#: Columns of the table the forest plot is drawn from (index: estimator).
HEADLINE_COLUMNS = ("estimate", "se", "ci_low", "ci_high", "p_value", "n_treated", "n_control")
#: Columns of the gross ESF indicator table (index: indicator, subgroup).
INDICATOR_COLUMNS = ("leavers", "employed", "share")


@dataclass(frozen=True, eq=False)
class EffectsChapter(Result):
    """Everything the effects chapter publishes.

    Attributes
    ----------
    results
        Every estimator on every outcome (bootstrap SE applied where the rule picks it).
    effects
        Those estimates as a table (index outcome, estimator, subgroup).
    headline
        The headline outcome's estimates, one row per estimator (the forest plot's data).
    se_methods
        Estimator -> how its SE on the headline outcome was obtained (a catalogue key).
    bootstrap
        The weighted bootstrap's settings and how many SEs it checked and replaced.
    esf_outcome, esf_immediate_outcome
        The longer-term and the immediate ESF indicator.
    esf_definition
        How the indicators and their counterfactual are defined (for the report).
    esf_results
        The naive difference and the headline estimator on each indicator: all, women, men.
    esf_by_sex
        Those estimates as a table.
    esf_indicator
        The gross indicators: mentored leavers whose month is observed, those in work, and
        the share, by sex.
    esf_sex_difference
        Women minus men on the longer-term indicator (headline estimator).
    multiplicity, multiplicity_table
        Romano-Wolf adjusted p-values of the headline estimator over all outcomes.
    subgroup_tests
        Per pre-registered subgroup variable (``estimation.subgroups``): Cochran's Q test
        that the headline estimate is the same in every estimated level, with Holm-adjusted
        p-values. The levels' estimates are among ``results`` (subgroup ``variable=level``).
    permutation
        The headline's conditional randomisation test.
    skipped
        Analyses not done, and why. An exhibit of such an analysis is
        :class:`~evaluation.protocol.Skipped` (with the reason) instead of its value, so the
        notebook records every exhibit without branching; so is ``esf_sex_difference`` when
        an estimate of one sex is withheld.
    spec
        What was estimated (from the parameters).
    """

    results: list[EffectResult]
    effects: PublishedTable
    headline: PublishedTable
    se_methods: dict[str, str]
    bootstrap: dict[str, Any] | Skipped
    esf_outcome: str | Skipped
    esf_immediate_outcome: str | Skipped
    esf_definition: dict[str, Any] | Skipped
    esf_results: list[EffectResult] | Skipped
    esf_by_sex: PublishedTable | Skipped
    esf_indicator: PublishedTable | Skipped
    esf_sex_difference: dict[str, Any] | Skipped
    multiplicity: dict[str, Any] | Skipped
    multiplicity_table: PublishedTable | Skipped
    permutation: dict[str, Any] | Skipped
    subgroup_tests: PublishedTable | Skipped
    skipped: dict[str, str]
    spec: fx.EffectsSpec
    esf_difference_facts: tuple[Fact, ...] = private(default=())
    multiplicity_facts: tuple[Fact, ...] = private(default=())
    permutation_facts: tuple[Fact, ...] = private(default=())
    data: pd.DataFrame | None = private(default=None)

    def to_frame(self) -> pd.DataFrame:
        """The headline outcome's estimates, one row per estimator (sizes left out)."""
        return self.headline.frame.drop(columns=["n_treated", "n_control"])


@produced_by
def effects_chapter(
    covariates: pd.DataFrame,
    outcome_frame: pd.DataFrame,
    design_frame: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    outcomes: Mapping[str, Any],
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    bootstrap_rng: np.random.Generator,
    permutation_rng: np.random.Generator,
    min_cell: int,
) -> EffectsChapter:
    """Estimate the effects and make the chapter's published tables.

    Parameters
    ----------
    covariates, outcome_frame, design_frame
        The hand-overs of notebooks 01 and 02 (``design_data``, ``outcome_data``,
        ``design``), one row per analysed person.
    monthly
        The monthly panel of the analysed persons (``person_id``, ``month``, ``employed``),
        for the ESF indicators, which are read relative to each person's leaving month.
    outcomes, design, estimation
        The parameter file's sections (as injected into the notebook).
    bootstrap_rng
        ``evaluation.rng.stream(seed, "weighted_bootstrap")``.
    permutation_rng
        ``evaluation.rng.stream(seed, "permutation")``.
    min_cell
        The disclosure threshold.
    """
    data = fx.analysis_sample(covariates, outcome_frame, design_frame)
    outcome_list = outcome_names(list(outcomes["horizons"]))
    spec = fx.EffectsSpec.from_params(design, estimation)
    skipped: dict[str, str] = {}

    failed: dict[tuple[str, str], str] = {}
    results = fx.estimate_study(data, outcome_list, spec, failed=failed)
    skipped.update(failed_estimators(failed))
    boot_params = dict(estimation["bootstrap"])
    boot = None
    bootstrap: dict[str, Any] | Skipped = Skipped("estimation.bootstrap.draws is 0")
    if int(boot_params["draws"]) > 0:
        boot = fx.bootstrap_study(
            data, outcome_list, spec, draws=int(boot_params["draws"]),
            use_when_ratio_above=float(boot_params["use_when_ratio_above"]), rng=bootstrap_rng,
            scheme=boot_params["weights"],
        )  # fmt: skip
        results = fx.apply_bootstrap(results, boot)
        bootstrap = {
            **boot_params,
            "n_bootstrap_shown": sum(r.spec.get("se_key") == "bootstrap_ps" for r in results),
            "n_checked": sum("se_key" in r.spec for r in results),
        }

    esf_part = _esf_section(covariates, design_frame, monthly, data, spec, min_cell, skipped)

    family = fx.headline_family(data, results, outcome_list, spec, boot) if boot else None
    if family is None:
        skipped["multiplicity"] = (
            f"no joint bootstrap for the headline estimator {spec.headline_estimator} (or "
            "estimation.bootstrap.draws is 0)"
        )
    multiplicity, multiplicity_table, multiplicity_facts = _multiplicity(
        family, results, spec, skipped.get("multiplicity", "")
    )

    permutation: dict[str, Any] | Skipped = Skipped("estimation.permutation_draws is 0")
    permutation_facts: tuple[Fact, ...] = ()
    draws = int(estimation["permutation_draws"])
    if draws > 0:
        perm_data = data.loc[data["in_subsample"]]
        perm = fx.randomisation_headline(perm_data, spec, n_draws=draws, rng=permutation_rng)
        permutation = fx.randomisation_record(perm, n_persons=len(perm_data))
        permutation_facts = _permutation_facts(perm_data, spec)
    else:
        skipped["headline_permutation"] = "estimation.permutation_draws is 0"

    variables = list(estimation.get("subgroups") or ())
    subgroup_tests: PublishedTable | Skipped = Skipped("estimation.subgroups is empty")
    if variables:
        groups = subgroup_effects(data, spec.headline_outcome, spec, variables, min_cell=min_cell)
        results = [*results, *groups.results]
        subgroup_tests = _subgroup_tests(groups)
        for label, why in groups.withheld.items():  # too small, or its design has no solution
            kind = "subgroup_design:" if label in groups.unsolved else "subgroup:"
            skipped[kind + label] = why
    else:
        skipped["subgroup_tests"] = "estimation.subgroups is empty"

    headline_rows = [r for r in results
                     if r.outcome == spec.headline_outcome and r.subgroup == "all"]  # fmt: skip
    return EffectsChapter(
        results=results,
        effects=_effects_table(results),
        headline=_headline_table(headline_rows),
        se_methods=fx.se_labels(results, spec.headline_outcome),
        bootstrap=bootstrap,
        multiplicity=multiplicity,
        multiplicity_table=multiplicity_table,
        permutation=permutation,
        subgroup_tests=subgroup_tests,
        skipped=skipped,
        spec=spec,
        multiplicity_facts=multiplicity_facts,
        permutation_facts=permutation_facts,
        data=data,
        **esf_part,
    )


# --- effects tables ----------------------------------------------------------------------


def effect_facts(row: str, result: EffectResult,
                 columns: Sequence[str] = ("n_treated", "n_control", *STATISTICS)
                 ) -> list[Fact]:  # fmt: skip
    """The facts of one estimate's cells in a table row: its sizes count, the rest samples.

    Raises
    ------
    EvaluationError
        The estimate does not carry its persons (it could not be audited).
    """
    if result.persons is None:
        raise EvaluationError(
            f"{result.estimator} on {result.outcome} ({result.subgroup}) does not carry its "
            "persons, so the disclosure audit could not check it; this is a bug"
        )
    treated, control = result.persons
    out: list[Fact] = []
    for col in columns:
        if col in ("n_treated", "n_control"):
            out.append(fact((row, col), treated if col == "n_treated" else control))
        else:
            out += [fact((row, col), treated, "sample"), fact((row, col), control, "sample")]
    return out


def _effects_table(results: Sequence[EffectResult]) -> PublishedTable:
    """:func:`~evaluation.estimate.effects.effects_table` with each cell's facts."""
    table = fx.effects_table(results)
    facts = [f for r in results
             for f in effect_facts(row_key((r.outcome, r.estimator, r.subgroup)), r)]  # fmt: skip
    return PublishedTable(table, tuple(facts))


def _headline_table(rows: Sequence[EffectResult]) -> PublishedTable:
    """The headline outcome's estimates, one row per estimator, in the parameters' order."""
    table = fx.effects_table(rows).reset_index(["outcome", "subgroup"], drop=True)
    table = table[list(HEADLINE_COLUMNS)]
    facts = [f for r in rows for f in effect_facts(r.estimator, r, HEADLINE_COLUMNS)]
    return PublishedTable(table, tuple(facts))


def failed_estimators(failed: Mapping[tuple[str, str], str]) -> dict[str, str]:
    """``skipped`` entries (``estimator:<name>``) for estimators with no solution on an outcome."""
    out: dict[str, list[str]] = {}
    for (outcome, method), why in failed.items():
        out.setdefault(f"estimator:{method}", []).append(f"{outcome}: {why}")  # skip_estimator
    return {name: "; ".join(whys) for name, whys in out.items()}


def _subgroup_tests(groups: Subgroups) -> PublishedTable:
    """One row per variable: levels tested, Q, df, p, Holm p; facts: the levels' persons."""
    rows, facts = [], []
    by_label = {r.subgroup: r for r in groups.results}
    for t in groups.tests:
        rows.append({"variable": t.variable, "levels": ", ".join(t.levels),
                     "n_levels": len(t.levels), "statistic": round(t.statistic, 2), "df": t.df,
                     "p_value": t.p_value, "p_holm": t.p_holm})  # fmt: skip
        members = [by_label[f"{t.variable}={lvl}"].persons for lvl in t.levels]
        treated = np.concatenate([m[0] for m in members])
        control = np.concatenate([m[1] for m in members])
        for col in ("statistic", "p_value", "p_holm"):
            facts += [fact((row_key(t.variable), col), treated, "sample"),
                      fact((row_key(t.variable), col), control, "sample")]  # fmt: skip
    columns = ["variable", "levels", "n_levels", "statistic", "df", "p_value", "p_holm"]
    table = pd.DataFrame(rows, columns=columns).set_index("variable")
    return PublishedTable(table, tuple(facts))


# --- the ESF indicators ------------------------------------------------------------------


def _esf_section(covariates: pd.DataFrame, design_frame: pd.DataFrame, monthly: pd.DataFrame,
                 data: pd.DataFrame, spec: fx.EffectsSpec, k: int,
                 skipped: dict[str, str]) -> dict[str, Any]:  # fmt: skip
    """The ESF indicators: gross counts by sex, and their effects (see :mod:`.esf`)."""
    persons = covariates.merge(design_frame[["person_id", "logit"]], on="person_id",
                               how="left", validate="one_to_one")  # fmt: skip
    built = esf.build_leaving_outcomes(persons, monthly, persons["logit"], spec.exact)
    if not built.available:
        skipped["esf_indicators"] = (
            "no mentored person has an end month (participants.end_month), so no one has "
            "left the programme and the ESF indicators, counted after leaving, cannot be "
            "computed"
        )
        none = Skipped(skipped["esf_indicators"])
        return {name: none for name in (
            "esf_outcome", "esf_immediate_outcome", "esf_definition", "esf_results",
            "esf_by_sex", "esf_indicator", "esf_sex_difference")} | {
            "esf_difference_facts": ()}  # fmt: skip
    everyone = persons.merge(built.frame, on="person_id", validate="one_to_one")
    sample = data.merge(built.frame, on="person_id", how="left", validate="one_to_one")
    by_sex = esf.estimate_indicators(sample, spec, min_cell=k)
    for label, why in by_sex.withheld.items():
        skipped[f"esf_{label}"] = why
    longer = [r for r in by_sex.results if r.outcome == esf.LONGER_TERM]
    diff = fx.sex_difference(fx.SubgroupEffects(longer), spec.headline_estimator)
    if diff is None:
        skipped["sex_difference_esf"] = (
            "the women-men difference needs both estimates, and one is withheld"
        )
    return {
        "esf_outcome": esf.LONGER_TERM,
        "esf_immediate_outcome": esf.IMMEDIATE,
        "esf_definition": {
            "indicators": dict(LEAVING_OUTCOMES),
            "counterfactual": esf.COUNTERFACTUAL_RULE,
            "estimator": spec.headline_estimator,
        },
        "esf_results": by_sex.results,
        "esf_by_sex": _effects_table(by_sex.results),
        "esf_indicator": _indicator_table(esf.indicator_counts(everyone), k),
        "esf_sex_difference": (
            Skipped(skipped["sex_difference_esf"]) if diff is None else diff.to_dict()
        ),  # fmt: skip
        "esf_difference_facts": () if diff is None else _difference_facts(longer, spec),
    }


def _indicator_table(counts: esf.IndicatorCounts, k: int) -> PublishedTable:
    """Leavers, leavers in work and their share, per indicator and sex, disclosure-controlled.

    Within an indicator women and men add up to all (the margin of secondary suppression).
    A share is shown where both its counts are; it is ``..`` where its numerator is hidden
    and ``withheld (n<k)`` where its denominator is (a statistic on fewer than k persons).
    """
    blocks, facts = [], []
    for name in esf.INDICATORS:
        groups = list(esf.GROUPS)
        raw = pd.DataFrame(
            {"leavers": [len(counts.leavers[name, g]) for g in groups],
             "employed": [len(counts.employed[name, g]) for g in groups]},
            index=pd.Index(groups, name="subgroup"),
        )  # fmt: skip
        shown = protect_margined(raw, ["leavers", "employed"], k, total_row="all")
        shown["share"] = [_share(raw.loc[g], shown.loc[g], k) for g in groups]
        blocks.append(shown.assign(indicator=name).set_index("indicator", append=True)
                      .reorder_levels(["indicator", "subgroup"]))  # fmt: skip
        for g in groups:
            row = row_key((name, g))
            facts += [fact((row, "leavers"), counts.leavers[name, g]),
                      fact((row, "employed"), counts.employed[name, g]),
                      fact((row, "share"), counts.employed[name, g])]  # fmt: skip
    return PublishedTable(pd.concat(blocks)[list(INDICATOR_COLUMNS)], tuple(facts))


def _share(raw: pd.Series, shown: pd.Series, k: int) -> float | str:
    """Employed over leavers, unless a count behind it is hidden (the cells are text)."""
    if raw["leavers"] == 0:
        return float("nan")
    if is_hidden(shown["leavers"]):
        return withheld_label(k) if 0 < raw["leavers"] < k else SECONDARY_LABEL
    if is_hidden(shown["employed"]):
        return SECONDARY_LABEL
    return round(float(raw["employed"]) / float(raw["leavers"]), 4)


def _difference_facts(results: Sequence[EffectResult], spec: fx.EffectsSpec
                      ) -> tuple[Fact, ...]:  # fmt: skip
    """The women's and the men's samples behind the difference of their estimates."""
    out: list[Fact] = []
    for r in results:
        if (r.estimator == spec.headline_estimator and r.subgroup.startswith("sex=")
                and r.persons is not None):  # fmt: skip
            ids = np.concatenate(r.persons)
            out += [fact((col,), ids, "sample") for col in STATISTICS]
    return tuple(out)


# --- inference ---------------------------------------------------------------------------


def _multiplicity(family, results: Sequence[EffectResult], spec: fx.EffectsSpec, why: str
                  ) -> tuple[dict[str, Any] | Skipped, PublishedTable | Skipped,
                             tuple[Fact, ...]]:  # fmt: skip
    """The Romano-Wolf record and table, with the headline samples' facts."""
    if family is None:
        return Skipped(why), Skipped(why), ()
    table = family.table.round(4)
    shown = {r.outcome: r for r in results
             if r.estimator == spec.headline_estimator and r.subgroup == "all"}  # fmt: skip
    record = {
        "estimator": spec.headline_estimator, "method": family.method, "draws": family.draws,
        "outcomes": list(family.table.index),
        "p_romano_wolf": family.table["p_romano_wolf"].to_dict(),
        "p_bootstrap": family.table["p_bootstrap"].to_dict(),
    }  # fmt: skip
    number_facts: list[Fact] = []
    table_facts: list[Fact] = []
    for outcome in table.index:
        treated, control = shown[outcome].persons
        for ids in (treated, control):
            number_facts += [fact((col, outcome), ids, "sample")
                             for col in ("p_romano_wolf", "p_bootstrap")]  # fmt: skip
            table_facts += [fact((str(outcome), col), ids, "sample") for col in table.columns]
    return record, PublishedTable(table, tuple(table_facts)), tuple(number_facts)


def _permutation_facts(perm_data: pd.DataFrame, spec: fx.EffectsSpec) -> tuple[Fact, ...]:
    """``n_persons`` counts the redrawn persons; ``observed`` is an estimate on them."""
    ids = perm_data["person_id"].astype(str)
    treated = perm_data[TREATMENT] == 1
    return (
        fact(("n_persons",), ids),
        fact(("observed",), ids[treated], "sample"),
        fact(("observed",), ids[~treated], "sample"),
    )
