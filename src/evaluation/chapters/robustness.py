"""The robustness and costs chapter (notebook 06): how sure are we, was it worth it.

With about fifty mentored persons the first question is whether the study could have seen an
effect at all (the minimum detectable effect, ex ante); then whether the estimators find
"effects" where there can be none (placebo outcomes before the start, and a fake start a
year early); how strong a hidden confounder would have to be to explain the headline away
(E-value, Rosenbaum bounds); whether the answer hinges on one specification (a
specification curve, run in parallel processes); and what the programme cost per
participant and per additional person in work.

The numbers happen in :mod:`evaluation.robustness` (``power``, ``placebo``,
``sensitivity``, ``speccurve``, ``costs``) and :mod:`evaluation.estimate`; this module
orchestrates them and makes what the chapter publishes, after primary disclosure control,
with the facts each published value gives away (:mod:`evaluation.disclosure.ledger`):

* every count of persons (placebo left-outs, matched pairs, persons served) with its persons;
* every estimate with its sample (placebo estimates are :class:`EffectResult` with their
  persons; each specification of the curve brings its persons back from its worker process);
* statistics that give a count away with another published number: the power inputs (the
  minimum detectable effect and the design effect pin the number of matched mentored once
  the effective number of comparison persons is known), the E-value's baseline (with the
  estimate it gives the share employed among the mentored), the Rosenbaum p-values (they
  pin the numbers of discordant pairs), the costs (the budget over the persons served).

The disclosure audit of the run checks all of them together with every other published
value and hides what could be worked out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.design.propensity import design_matrix
from evaluation.disclosure.ledger import Fact, PublishedTable, fact, row_key
from evaluation.disclosure.rules import suppressed_label
from evaluation.errors import ParamsError
from evaluation.estimate import effects as fx
from evaluation.estimate.results import EffectResult
from evaluation.protocol import Result, jsonable, private, produced_by
from evaluation.robustness import omitted as om
from evaluation.robustness import placebo as pl
from evaluation.robustness import power as pw
from evaluation.robustness import sensitivity as sens
from evaluation.robustness import speccurve as sc

#: The choices that name a specification: the index of the published specification table
#: (its columns in the order the table holds them, so the records keep their layout).
SPEC_INDEX = ("outcome", "horizon", "estimator", "covariate_set", "trimming", "neighbours",
              "caliper")  # fmt: skip
#: Statistics of a row of an estimates table (each rests on the row's persons).
STATISTICS = ("estimate", "se", "ci_low", "ci_high", "p_value")
#: The fields of the E-value record that, with the published estimate, give away the share
#: employed among the mentored the estimate is about (``p1 = baseline + rd``).
EVALUE_SHARE_FIELDS = ("baseline", "rr", "rr_low", "rr_high", "evalue", "evalue_ci")
#: Why the E-value is withheld when the estimate leaves no risk ratio (no numbers in it: the
#: share employed among the mentored would give a count away).
EVALUE_NO_RATIO = (
    "the headline estimate implies a share employed without mentoring, for the mentored it is "
    "about, that is not strictly between 0 and 1: there is no risk ratio to convert, so no "
    "E-value is given"
)
#: Why the binary sensitivity analyses are skipped for an outcome that is not 0/1.
NOT_BINARY = (
    "the headline outcome is not 0/1: the E-value conversion and the McNemar-type Rosenbaum "
    "bounds apply to a binary outcome"
)


@dataclass(frozen=True, eq=False)
class RobustnessChapter(Result):
    """Everything the robustness and costs chapter publishes.

    Attributes
    ----------
    power, power_table
        The minimum detectable effect and its inputs (the ``power`` number) and by horizon
        (the ``power_mde`` table, which the power curve is drawn from).
    placebos, placebo_table, placebo_summary
        The placebo estimates (true effect zero; with their persons), as a table, and how
        many of the adjusted ones cover zero.
    evalue
        The E-value record of the headline, or ``None`` (see ``skipped``).
    rosenbaum, rosenbaum_curve
        Rosenbaum bounds of the 1:1 matched pairs: the summary and the worst-case p-value by
        Gamma (the table the figure is drawn from); ``None`` for a non-binary outcome.
    spec_table, spec_summary
        Every specification's estimate (small groups withheld) and the agreement with the
        headline.
    timing
        Wall time of the specification curve (machine-dependent: provenance only).
    ovb, ovb_bounds, ovb_contour
        The regression estimate's sensitivity to an omitted confounder (Cinelli and Hazlett
        2020): robustness values, bounds from the benchmark covariates, and the adjusted
        estimate on a grid of confounder strengths (the contour plot's table).
    skipped
        Analyses not done, with the reason (``evalue``, ``sensitivity_binary``).
    counts
        The persons each published count counts (private: the audit's facts).
    facts
        Per number key, the facts of its fields (paths relative to the number; private).
    headline
        The headline estimate the chapter compares with (private).
    """

    power: dict[str, Any]
    power_table: PublishedTable
    placebos: tuple[EffectResult, ...]
    placebo_table: PublishedTable
    placebo_summary: dict[str, Any]
    evalue: dict[str, Any] | None
    rosenbaum: dict[str, Any] | None
    rosenbaum_curve: PublishedTable | None
    spec_table: PublishedTable
    spec_summary: dict[str, Any]
    timing: dict[str, Any]
    ovb: dict[str, Any] | None = None
    ovb_bounds: PublishedTable | None = None
    ovb_contour: PublishedTable | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    counts: dict[str, np.ndarray] = private(default_factory=dict)
    facts: dict[str, tuple[Fact, ...]] = private(default_factory=dict)
    headline: EffectResult | None = private(default=None)

    def to_record(self) -> dict[str, Any]:
        """The chapter's numbers (its tables and estimates are recorded on their own)."""
        return jsonable({"power": self.power, "placebo_summary": self.placebo_summary,
                         "evalue": self.evalue, "rosenbaum": self.rosenbaum,
                         "spec_curve_summary": self.spec_summary, "ovb": self.ovb,
                         "skipped": self.skipped})  # fmt: skip

    def to_frame(self) -> pd.DataFrame:
        """The chapter at a glance: one row of its key numbers."""
        ev, rb = self.evalue or {}, self.rosenbaum or {}
        return pd.DataFrame([{
            "mde_costs_horizon": self.power["costs_horizon_mde"],
            "placebos_covering_zero": f"{self.placebo_summary['n_cover_zero']} of "
                                      f"{self.placebo_summary['n_adjusted']}",
            "evalue": ev.get("evalue"), "evalue_ci": ev.get("evalue_ci"),
            "gamma_critical": rb.get("gamma_critical"),
            "spec_share_same_sign": self.spec_summary["share_same_sign"],
        }])  # fmt: skip


# --- the chapter ----------------------------------------------------------------------------
@produced_by
def robustness_chapter(
    covariates: pd.DataFrame,
    outcomes_data: pd.DataFrame,
    design_hand_over: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    outcomes: Mapping[str, Any],
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    robustness: Mapping[str, Any],
    costs: Mapping[str, Any],
    min_cell: int,
    progress: Callable[[int, int], None] | None = None,
) -> RobustnessChapter:
    """Power, placebo tests, sensitivity and the specification curve.

    Parameters
    ----------
    covariates, outcomes_data, design_hand_over
        The hand-over of notebooks 01 and 02 (``design_data``, ``outcome_data``,
        ``design``): one row per person.
    monthly
        The validated monthly rows of (at least) the comparison subsample and the matched
        persons.
    outcomes, design, estimation, robustness
        The parameter file's sections.
    costs
        ``horizon``: the power analysis gives the minimum detectable effect at the costs
        horizon (the costs themselves are notebook 07's, :mod:`evaluation.chapters.costs`).
    min_cell
        The disclosure threshold.
    progress
        Called with ``(done, total)`` after each specification of the curve (default: a line
        printed about every sixth of the grid).

    Returns
    -------
    RobustnessChapter
    """
    if costs["horizon"] not in outcomes["horizons"]:
        raise ParamsError(f"costs.horizon {costs['horizon']} is not among outcomes.horizons "
                          f"{list(outcomes['horizons'])}")  # fmt: skip
    k = int(min_cell)
    level = float(estimation["level"])
    sample = fx.analysis_sample(covariates, outcomes_data, design_hand_over)
    spec = fx.EffectsSpec.from_params(design, estimation)
    in_sub = set(design_hand_over.loc[design_hand_over["in_subsample"], "person_id"])
    headline = fx.headline_estimate(sample, spec.headline_outcome, spec)

    counts: dict[str, np.ndarray] = {}
    facts: dict[str, tuple[Fact, ...]] = {}
    skipped: dict[str, str] = {}

    power, power_table, facts["power"] = power_section(
        sample, monthly, outcomes=outcomes, robustness=robustness,
        neighbours=int(estimation["matching"]["neighbours"]), costs_horizon=int(costs["horizon"]),
    )  # fmt: skip

    pla = placebo_section(sample, covariates, monthly, in_sub, spec, design=design,
                          estimation=estimation, robustness=robustness,
                          pre_months=int(outcomes["pre_months"]))  # fmt: skip
    counts |= pla.counts

    ovb = omitted_confounding(sample, spec, robustness=robustness, level=level)
    facts |= ovb.facts

    sen = hidden_confounding(sample, headline, spec, design=design, estimation=estimation,
                             robustness=robustness)  # fmt: skip
    counts |= sen.counts
    facts |= sen.facts
    skipped |= sen.skipped

    everyone = covariates.merge(outcomes_data, on="person_id", validate="one_to_one")
    everyone = everyone.loc[everyone["person_id"].isin(in_sub)].reset_index(drop=True)
    grid = sc.read_grid(robustness["specifications"])
    curve = sc.run_grid(everyone, grid, exact=design["exact"], level=level,
                        bias_adjust=estimation["matching"]["bias_correction"],
                        workers=robustness["workers"],
                        progress=progress or sc.progress_printer(len(grid.specifications)))  # fmt: skip
    timing = {"parallel_seconds": curve.wall_seconds, "workers": curve.workers,
              "processes_seen": curve.processes_seen, "n_specifications": len(grid.specifications)}  # fmt: skip
    if robustness.get("compare_sequential") and robustness["workers"] > 1:
        one = sc.run_grid(everyone, grid, exact=design["exact"], level=level,
                          bias_adjust=estimation["matching"]["bias_correction"], workers=1)  # fmt: skip
        if not np.allclose(one.table["estimate"], curve.table["estimate"], equal_nan=True):
            raise RuntimeError("the specification curve differs between the parallel and the "
                               "one-by-one run; this is a bug, please report it")  # fmt: skip
        timing |= {"sequential_seconds": one.wall_seconds,
                   "speedup": one.wall_seconds / curve.wall_seconds}  # fmt: skip
    spec = spec_curve_tables(curve, headline.estimate, alpha=1 - level, min_cell=k)
    spec_summary = {**spec.summary.__dict__, "grid_sha256": grid.sha256,
                    "grid_file": Path(grid.source).name, "n_withheld": spec.n_withheld}  # fmt: skip
    facts["spec_curve_summary"] = spec.summary_facts

    return RobustnessChapter(
        power=power,
        power_table=power_table,
        placebos=tuple(pla.effects),
        placebo_table=pla.table,
        placebo_summary=pla.summary,
        ovb=ovb.record,
        ovb_bounds=ovb.bounds,
        ovb_contour=ovb.contour,
        evalue=sen.evalue,
        rosenbaum=sen.rosenbaum,
        rosenbaum_curve=sen.curve,
        spec_table=spec.table,
        spec_summary=spec_summary,
        timing=timing,
        skipped=skipped,
        counts=counts,
        facts=facts,
        headline=headline,
    )


# --- power ----------------------------------------------------------------------------------
def power_section(
    sample: pd.DataFrame,
    monthly: pd.DataFrame,
    *,
    outcomes: Mapping[str, Any],
    robustness: Mapping[str, Any],
    neighbours: int,
    costs_horizon: int,
) -> tuple[dict[str, Any], PublishedTable, tuple[Fact, ...]]:
    """The ex-ante minimum detectable effect (:func:`evaluation.robustness.power.matched_mde`).

    The spread of the outcome at horizon ``h`` comes from employment in month
    ``start - min(h, pre_months)`` of the matched sample (only they enter the power
    analysis): ``pre_employed_m{pre_months}`` is in the analysis data, other months are read
    from the monthly rows.

    Returns the ``power`` record, the ``power_mde`` table and the record's facts. The number
    of matched mentored is a count; the minimum detectable effect, its standard error and the
    design effect pin it too (with the published effective number of comparison persons), so
    they carry the same count fact; the shares and spreads are statistics on the matched
    persons with the month observed.
    """
    horizons = [int(h) for h in outcomes["horizons"]]
    P = int(outcomes["pre_months"])
    months = sorted({min(h, P) for h in horizons})
    matched = sample.loc[sample["match_weight"] > 0]
    pre = {P: sample[f"pre_employed_m{P}"].to_numpy(dtype=float)}
    for m in (m for m in months if m != P):
        got = pl.pre_period_outcomes(matched, monthly, m)[["person_id", f"pre_employed_m{m}"]]
        merged = sample[["person_id"]].merge(got, on="person_id", how="left",
                                             validate="one_to_one")  # fmt: skip
        pre[m] = merged[f"pre_employed_m{m}"].to_numpy(dtype=float)
    res = pw.matched_mde(sample["treated"].to_numpy(), sample["match_weight"].to_numpy(), pre,
                         horizons, P, neighbours=neighbours, alpha=robustness["alpha"],
                         power=robustness["power"])  # fmt: skip
    ids = sample["person_id"].astype(str).to_numpy()
    t_ids, c_ids = ids[res.treated], ids[res.control]
    record = {
        "alpha": robustness["alpha"], "power": robustness["power"], "n_treated": res.n_treated,
        "ess_control": res.ess_control, "neighbours": neighbours,
        "design_effect": res.design_effect,
        "by_horizon": {str(h): {"mde": r.mde, "sd": r.sigma, "pre_month": min(h, P)}
                       for h, r in res.by_horizon.items()},
        "costs_horizon_mde": res.by_horizon[costs_horizon].mde,
    }  # fmt: skip

    def pins_n(where: tuple[Any, ...]) -> list[Fact]:  # solvable for the matched mentored
        return [fact(where, t_ids), fact(where, c_ids, "sample")]

    def share(where: tuple[Any, ...], h: int) -> list[Fact]:  # a statistic on the observed
        ok = res.observed[h]
        return [fact(where, ids[res.treated & ok], "sample"),
                fact(where, ids[res.control & ok], "sample")]  # fmt: skip

    record_facts = [fact(("n_treated",), t_ids), fact(("ess_control",), c_ids, "sample"),
                    *pins_n(("design_effect",)), *pins_n(("costs_horizon_mde",))]  # fmt: skip
    table_facts: list[Fact] = []
    for h in horizons:
        record_facts += [*pins_n(("by_horizon", str(h), "mde")),
                         *share(("by_horizon", str(h), "sd"), h)]  # fmt: skip
        row = row_key(h)
        table_facts += [*share((row, "pre_share"), h), *share((row, "sd"), h),
                        *pins_n((row, "mde")), *pins_n((row, "se"))]  # fmt: skip
    return record, PublishedTable(res.table.round(4), tuple(table_facts)), tuple(record_facts)


# --- placebo tests --------------------------------------------------------------------------
@dataclass(frozen=True)
class PlaceboSection:
    """The placebo estimates, their table and summary, and the persons of the counts."""

    effects: list[EffectResult]
    table: PublishedTable
    summary: dict[str, Any]
    counts: dict[str, np.ndarray] = field(repr=False)


def placebo_section(
    sample: pd.DataFrame,
    covariates: pd.DataFrame,
    monthly: pd.DataFrame,
    in_sub: set[Any],
    spec: fx.EffectsSpec,
    *,
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    robustness: Mapping[str, Any],
    pre_months: int,
) -> PlaceboSection:
    """Placebo estimates where the true effect is zero (:mod:`evaluation.robustness.placebo`).

    (1) Pre-period outcomes of the study's own sample (its comparison subsample), (2) the
    whole design and every estimator again after a fake start ``fake_start_shift`` months
    early. Each estimate carries its persons (the fake start's own matching); the persons
    left out of the fake start are counted with their ids.
    """
    level = float(estimation["level"])
    sub_sample = sample.loc[sample["person_id"].isin(in_sub)].reset_index(drop=True)
    m = int(robustness["pre_outcome_months"])
    pre_cols = [f"pre_employed_m{m}", f"pre_earnings_{m}"]
    with_pre = sub_sample.merge(pl.pre_period_outcomes(sub_sample, monthly, m)[
        ["person_id", *pre_cols]], on="person_id", validate="one_to_one")  # fmt: skip
    failed: dict[tuple[str, str], str] = {}  # e.g. no entropy-balancing weights on a sample
    placebo_pre = pl.pre_period_effects(with_pre, pre_cols, spec, failed=failed)
    fake = pl.fake_start_data(covariates.loc[covariates["person_id"].isin(in_sub)], monthly,
                              shift=robustness["fake_start_shift"],
                              horizons=robustness["fake_start_horizons"], pre_months=pre_months)  # fmt: skip
    placebos = placebo_pre + pl.fake_start_effects(fake, design, estimation, failed=failed)
    adjusted = [r for r in placebos if not r.estimator.endswith("_naive")]
    summary = {
        "n_adjusted": len(adjusted),
        "n_cover_zero": int(sum(r.ci_low <= 0 <= r.ci_high for r in adjusted)),
        "n_significant": int(sum(r.p_value < 1 - level for r in adjusted)),
        "pre_months": m, "shift": robustness["fake_start_shift"],
        "fake_horizons": list(fake.horizons), "headline_estimator": spec.headline_estimator,
        "not_estimated": sorted(f"{outcome}/{method}" for outcome, method in failed),
    }  # fmt: skip
    return PlaceboSection(
        effects=placebos,
        table=effects_published(placebos),
        summary=summary,
        counts={
            "placebo_fake_dropped_control": fake.dropped_control,
            "placebo_fake_dropped_treated": fake.dropped_treated,
        },  # fmt: skip
    )


def effects_published(results: Sequence[EffectResult]) -> PublishedTable:
    """:func:`~evaluation.estimate.effects.effects_table` with the facts of its cells.

    ``n_treated`` and ``n_control`` count the estimate's persons; the estimate and its
    inference are statistics on them (the audit withholds them below the threshold).
    """
    facts: list[Fact] = []
    for r in results:
        if r.persons is None:
            raise ValueError(f"{r.estimator} on {r.outcome}: the estimate does not carry its "
                             "persons (the data need a person_id column)")  # fmt: skip
        facts += _estimate_facts(row_key((r.outcome, r.estimator, r.subgroup)), *r.persons)
    return PublishedTable(fx.effects_table(results), tuple(facts))


def _estimate_facts(row: str, treated: Any, control: Any) -> list[Fact]:
    out = [fact((row, "n_treated"), treated), fact((row, "n_control"), control)]
    for col in STATISTICS:
        out += [fact((row, col), treated, "sample"), fact((row, col), control, "sample")]
    return out


# --- hidden confounding ---------------------------------------------------------------------
def headline_sample(sample: pd.DataFrame, spec: fx.EffectsSpec) -> pd.DataFrame:
    """The headline's estimation rows: its outcome observed, inside category support."""
    hy = spec.headline_outcome
    return fx.supported(sample.loc[sample[hy].notna()], spec.covariates)


@dataclass(frozen=True)
class OmittedConfounding:
    """The regression estimate's Cinelli-Hazlett sensitivity, published, with its facts."""

    record: dict[str, Any]
    bounds: PublishedTable
    contour: PublishedTable
    facts: dict[str, tuple[Fact, ...]] = field(repr=False)


#: The contour plot's grid: partial R² from 0 to at most this, in this many steps.
OVB_R2_MAX, OVB_STEPS = 0.5, 21


def omitted_confounding(sample: pd.DataFrame, spec: fx.EffectsSpec, *,
                        robustness: Mapping[str, Any], level: float) -> OmittedConfounding:  # fmt: skip
    """Cinelli and Hazlett (2020) for the regression estimate of the headline outcome.

    The regression is the study's regression estimator (``y ~ 1 + d + X`` on the rows with the
    outcome inside category support, the same design matrix), with its classical standard
    error, the one the sensitivity identities hold for
    (:mod:`evaluation.robustness.omitted`). Benchmarks are ``robustness.ovb_benchmarks``
    (numeric covariates; a confounder ``ovb_multiples`` times as strong as each). Every
    value is a statistic of the estimation sample (its mentored and its comparison persons);
    ``df`` is the sample's size less the number of regressors, so it counts the sample.
    """
    hy = spec.headline_outcome
    est = headline_sample(sample, spec)
    x = design_matrix(est, spec.covariates).frame
    benchmarks = list(robustness["ovb_benchmarks"])
    missing = [b for b in benchmarks if b not in x.columns]
    if missing:
        raise ParamsError(f"robustness.ovb_benchmarks {missing}: not a numeric covariate of the "
                          "regression (a category's dummies cannot be one benchmark)")  # fmt: skip
    alpha = 1 - level
    res = om.omitted_sensitivity(est[hy], est[fx.TREATMENT], x, benchmarks=benchmarks,
                                 multiples=robustness["ovb_multiples"], alpha=alpha)  # fmt: skip
    record = {"outcome": hy, "estimate": res.estimate, "se": res.se, "t": res.t, "df": res.df,
              "r2yd_x": res.r2yd_x, "rv_q": res.rv_q, "rv_qa": res.rv_qa, "q": res.q,
              "alpha": alpha, "benchmarks": benchmarks}  # fmt: skip
    ids = est["person_id"].astype(str)
    treated = ids.loc[est[fx.TREATMENT] == 1].to_numpy()
    control = ids.loc[est[fx.TREATMENT] != 1].to_numpy()

    def on_sample(where: tuple[Any, ...]) -> list[Fact]:
        return [fact(where, treated, "sample"), fact(where, control, "sample")]

    stats_fields = ("estimate", "se", "t", "r2yd_x", "rv_q", "rv_qa")
    record_facts = [f for name in stats_fields for f in on_sample((name,))]
    record_facts.append(fact(("df",), ids.to_numpy()))  # n = df + regressors
    bounds = res.bounds.drop(columns=["ky"]).set_index(["benchmark", "kd"]).round(6)
    bound_facts = [f for key in _json_row_keys(bounds) for col in bounds.columns
                   for f in on_sample((key, col))]  # fmt: skip
    # the plot's range: beyond the benchmarks and the robustness value, at most OVB_R2_MAX
    reach = max([res.rv_q, *res.bounds["r2dz_x"], *res.bounds["r2yz_dx"]], default=0.0)
    r2_max = min(OVB_R2_MAX, float(np.ceil(max(1.5 * reach, 0.02) * 50) / 50))
    grid = om.contour(res.estimate, res.se, res.df, alpha=alpha, r2_max=r2_max,
                      points=OVB_STEPS)  # fmt: skip
    origin = om.adjusted(res.estimate, res.se, res.df, 0.0, 0.0, alpha=alpha)
    points = [
        {
            "r2dz_x": 0.0,
            "r2yz_dx": 0.0,
            "adjusted_estimate": origin[0],
            "adjusted_low": origin[3],
            "point": "unadjusted",
        }
    ]
    points += [{"r2dz_x": r.r2dz_x, "r2yz_dx": r.r2yz_dx, "adjusted_estimate": r.adjusted_estimate,
                "adjusted_low": r.adjusted_low, "point": f"{r.kd:g}x {r.benchmark}"}
               for r in res.bounds.itertuples()]  # fmt: skip
    contour = (pd.concat([grid.assign(point=""), pd.DataFrame(points)], ignore_index=True)
               .round(6).set_index(["point", "r2dz_x", "r2yz_dx"]))  # fmt: skip
    contour_facts = [f for key in _json_row_keys(contour) for col in contour.columns
                     for f in on_sample((key, col))]  # fmt: skip
    return OmittedConfounding(
        record=record,
        bounds=PublishedTable(bounds, tuple(bound_facts)),
        contour=PublishedTable(contour, tuple(contour_facts)),
        facts={"ovb": tuple(record_facts)},
    )


@dataclass(frozen=True)
class HiddenConfounding:
    """E-value and Rosenbaum bounds of the headline, with their facts and what was skipped."""

    evalue: dict[str, Any] | None
    rosenbaum: dict[str, Any] | None
    curve: PublishedTable | None
    skipped: dict[str, str]
    counts: dict[str, np.ndarray] = field(repr=False)
    facts: dict[str, tuple[Fact, ...]] = field(repr=False)


def hidden_confounding(
    sample: pd.DataFrame,
    headline: EffectResult,
    spec: fx.EffectsSpec,
    *,
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    robustness: Mapping[str, Any],
) -> HiddenConfounding:
    """The E-value (VanderWeele and Ding 2017) and Rosenbaum bounds (Rosenbaum 2002).

    Both need a 0/1 headline outcome (else both are skipped with the reason). The E-value
    converts the ATT to a risk ratio against the counterfactual share the estimate implies
    (:func:`evaluation.robustness.sensitivity.evalue_att`); an estimate that implies a
    counterfactual share at or beyond 0 or 1 has no risk ratio: the E-value is then withheld
    with its reason (``skipped["evalue"]``) and the Rosenbaum bounds are still given. For the
    bounds each mentored person is re-matched to one comparison person without replacement
    (:func:`~evaluation.robustness.sensitivity.matched_pairs`); the counts of pairs count
    the mentored persons of those pairs.
    """
    level = float(estimation["level"])
    hy = spec.headline_outcome
    est_sample = headline_sample(sample, spec)
    if not bool(est_sample[hy].isin([0, 1]).all()):
        return HiddenConfounding(None, None, None, {"sensitivity_binary": NOT_BINARY}, {}, {})
    if headline.persons is None:
        raise ValueError("the headline estimate does not carry its persons")
    ids = est_sample["person_id"].astype(str)
    treated_ids, control_ids = headline.persons
    employed = ids.loc[est_sample[hy] == 1].to_numpy()
    # p1: the share employed among the mentored the estimate is about
    in_work = np.intersect1d(np.asarray(treated_ids, dtype=str), employed)
    facts: dict[str, tuple[Fact, ...]] = {}
    skipped: dict[str, str] = {}
    evalue: dict[str, Any] | None = None
    p1 = sens.treated_risk(headline, est_sample, hy)
    try:
        ev = sens.evalue_att(headline.estimate, headline.ci_low, headline.ci_high,
                             treated_risk=p1)  # fmt: skip
    except ValueError:
        skipped["evalue"] = EVALUE_NO_RATIO
    else:
        evalue = {"rd": ev.rd, "baseline": ev.baseline, "rr": ev.rr, "rr_low": ev.rr_low,
                  "rr_high": ev.rr_high, "evalue": ev.evalue, "evalue_ci": ev.evalue_ci,
                  "ci_covers_null": ev.evalue_ci == 1.0}  # fmt: skip
        facts["evalue"] = (
            *(fact((name,), in_work) for name in EVALUE_SHARE_FIELDS),
            *(fact((name,), persons, "sample") for name in ("rd",)
              for persons in (treated_ids, control_ids)),
        )  # fmt: skip
    pairs = sens.matched_pairs(est_sample, hy, distance=est_sample["logit"],
                               caliper=estimation["matching"]["caliper"], exact=design["exact"])  # fmt: skip
    gammas = np.round(np.arange(1.0, robustness["rosenbaum_gamma_max"] + 1e-9, 0.05), 2)
    rb = sens.rosenbaum_binary(pairs.y_treated, pairs.y_control, alpha=(1 - level) / 2,
                               gammas=gammas)  # fmt: skip
    mentored = ids.loc[pairs.treated].to_numpy()
    discordant, treated_only = mentored[pairs.discordant], mentored[pairs.treated_only]
    rosenbaum = {
        "alpha": rb.alpha, "p_at_1": rb.p_at_1,
        "gamma_critical": rb.gamma_critical if np.isfinite(rb.gamma_critical) else None,
        "significant_at_1": rb.p_at_1 < rb.alpha, "gamma_max": robustness["rosenbaum_gamma_max"],
        "pairs_estimate": float(np.mean(pairs.y_treated - pairs.y_control)),
    }  # fmt: skip

    def pins_pairs(where: tuple[Any, ...]) -> list[Fact]:  # D and T from a p-value curve
        return [fact(where, discordant), fact(where, treated_only)]

    facts["rosenbaum"] = (*pins_pairs(("p_at_1",)), *pins_pairs(("gamma_critical",)),
                          *pins_pairs(("pairs_estimate",)), fact(("pairs_estimate",), mentored))  # fmt: skip
    curve = pd.DataFrame({"gamma": rb.gammas, "p_upper": rb.p_upper}).set_index("gamma")
    curve_facts = tuple(f for key in _json_row_keys(curve) for f in pins_pairs((key, "p_upper")))
    return HiddenConfounding(
        evalue=evalue,
        rosenbaum=rosenbaum,
        curve=PublishedTable(curve, curve_facts),
        skipped=skipped,
        counts={
            "rosenbaum_pairs": mentored,
            "rosenbaum_discordant": discordant,
            "rosenbaum_treated_only": treated_only,
        },  # fmt: skip
        facts=facts,
    )


# --- specification curve --------------------------------------------------------------------
@dataclass(frozen=True)
class SpecCurveTables:
    """The published specification table and its summary, with their facts."""

    table: PublishedTable
    summary: sc.SpecSummary
    n_withheld: int
    summary_facts: tuple[Fact, ...] = field(repr=False)


def spec_curve_tables(
    curve: sc.SpecCurve, reference: float, *, alpha: float, min_cell: int
) -> SpecCurveTables:
    """The published specification table, its summary, and the summary's facts.

    A specification resting on fewer than ``min_cell`` persons in a group is withheld (its
    estimate and inference blank, ``error`` says why, its group sizes ``<k``); the summary
    (:func:`~evaluation.robustness.speccurve.summarise`) is of the others. Each row's group
    sizes count its persons (brought back from the worker processes); the smallest, largest
    and median estimate of the summary rest on the persons of the specifications they come
    from.
    """
    k = int(min_cell)
    table = curve.table.copy()
    small = (table["n_treated"] < k) | (table["n_control"] < k)
    table.loc[small, list(STATISTICS)] = np.nan
    table.loc[small, "error"] = f"withheld: fewer than {k} persons in a group"
    summary = sc.summarise(table, reference, alpha=alpha)
    published = table.astype({"n_treated": object, "n_control": object})
    for col in ("n_treated", "n_control"):
        few = published[col].map(lambda n: isinstance(n, int | np.integer) and 0 < n < k)
        published.loc[few, col] = suppressed_label(k)
    published = published.round(4).set_index(list(SPEC_INDEX))
    persons = curve.persons or (None,) * len(table)
    facts: list[Fact] = []
    for key, sample_persons in zip(_json_row_keys(published), persons, strict=True):
        if sample_persons is not None:
            facts += _estimate_facts(key, *sample_persons)
    summary_facts: list[Fact] = []
    shown = table["estimate"].notna().to_numpy()
    for name, rows in _order_statistics(table["estimate"].to_numpy(dtype=float), shown).items():
        for i in rows:
            if persons[i] is not None:
                summary_facts += [fact((name,), p, "sample") for p in persons[i]]
    return SpecCurveTables(PublishedTable(published, tuple(facts)), summary, int(small.sum()),
                           tuple(summary_facts))  # fmt: skip


def _order_statistics(values: np.ndarray, shown: np.ndarray) -> dict[str, list[int]]:
    """The rows the smallest, largest and median shown estimate are taken from."""
    rows = np.flatnonzero(shown)
    if not len(rows):
        return {}
    order = rows[np.argsort(values[rows], kind="mergesort")]
    n = len(order)
    middle = [order[n // 2]] if n % 2 else [order[n // 2 - 1], order[n // 2]]
    return {"low": [int(order[0])], "high": [int(order[-1])], "median": [int(i) for i in middle]}


def _json_row_keys(frame: pd.DataFrame) -> list[str]:
    """How the audit names each row of a table once recorded (its index values as JSON holds them)."""
    index = list(frame.index.names)
    records = json.loads(frame.reset_index()[index].to_json(orient="records"))
    return [row_key(tuple(r[c] for c in index)) if len(index) > 1 else str(r[index[0]])
            for r in records]  # fmt: skip
