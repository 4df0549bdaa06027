"""The timing chapter (notebook 04): when the effect comes.

Three views of the effect over time, all on the sample the design stage kept (notebook 02):
an event study on the monthly panel (matched and odds-weighted samples, with a pre-trend test,
sup-t bands and a bootstrap that re-estimates the odds weights), staggered
difference-in-differences (Callaway & Sant'Anna 2021) beside two-way fixed effects, and the
time to the first job (weighted Kaplan–Meier curves and a Cox model on the matched sample,
with a bootstrap of matched sets). The numbers happen in :mod:`evaluation.estimate.dynamics`,
:mod:`evaluation.estimate.staggered` and :mod:`evaluation.estimate.duration`; this module
puts them into the tables, effects and numbers the report publishes, each with the facts it
gives away (:mod:`evaluation.disclosure.ledger`), so that the run's disclosure audit can check
them against every other published number.

What each published value gives away (its facts):

* ``timing_n_persons``: the trimmed persons (a count);
* every effect's ``n_treated``/``n_control``: the persons they count
  (:attr:`EffectResult.persons <evaluation.estimate.results.EffectResult.persons>`): the event
  study's sample (mentored and comparison persons with a positive weight and a month in the
  window), the staggered DiD's mentored persons (all of them, or the cohort's) and the
  comparison persons of its largest cell, the TWFE's and the Cox model's samples;
* a coefficient, band or SE in a table: a statistic on the persons it rests on (``sample``):
  for an event time, the persons of the sample observed in that month (event study) or in the
  cohort-period cells of that period since start (staggered DiD);
* a point of the time-to-first-job curve and the shares read off it (``km_job_share``): the
  persons of the group who found a job by that point (a count: the share of a published
  group). :func:`~evaluation.estimate.duration.disclosure_steps` keeps only points at least
  ``min_cell`` events apart with at least ``min_cell`` persons of the group without a job yet,
  so the audit, which sees exactly these points, has nothing small to solve for in them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.calendar import month_index
from evaluation.data.io import read_handed_over_panel
from evaluation.data.outcomes import panel_relative
from evaluation.disclosure.ledger import Fact, PublishedTable, fact, row_key
from evaluation.estimate import duration as du
from evaluation.estimate import dynamics as dy
from evaluation.estimate import staggered as st
from evaluation.estimate.results import EffectResult
from evaluation.protocol import Result, private, produced_by
from evaluation.rng import stream

#: The event study's samples and the person weight each uses.
SAMPLES = {"matched": "match_weight", "ipw": "ipw_weight"}
#: The outcomes of the chapter (monthly 0/1 employment and monthly earnings).
OUTCOMES = ("employed", "earnings")
#: The staggered DiD's estimators: doubly robust first (it carries the figure's band).
CS_METHODS = ("dr", "or")
#: Months since start whose event-study coefficients the report tabulates (within the lags).
MONTHS_SHOWN = (3, 6, 12, 18, 24)
#: Months at which the report reads the time-to-first-job curve (within the follow-up).
JOB_MONTHS = (3, 6, 12, 24)

ES_ESTIMAND = {
    "matched": "ATT in month k since start relative to month -1, mentored with a match "
    "(matching weights), event study with person, calendar-month and shared "
    "event-time fixed effects",
    "ipw": "ATT in month k since start relative to month -1, mentored in the trimmed sample "
    "(odds weights e/(1-e) on comparison persons), event study with person, "
    "calendar-month and shared event-time fixed effects",
}
CS_ESTIMAND = {
    "rel": "ATT e periods after the start period, cohorts weighted by size (Callaway & "
    "Sant'Anna 2021 event-time aggregation)",
    "cohort": "ATT of one start cohort, averaged over its periods from start on",
    "overall": "overall ATT: cohort ATTs averaged with cohort shares (Callaway & Sant'Anna "
    "2021 group aggregation)",
}
TWFE_ESTIMAND = ("TWFE coefficient on 'started' (person and period fixed effects): a weighted "
                 "average of cohort-period effects")  # fmt: skip
COX_ESTIMAND = ("log hazard ratio of finding a first job, mentored vs matched comparison (Cox "
                "proportional hazards, Breslow ties, matching weights)")  # fmt: skip
CLUSTERED = "clustered by person (linearmodels PanelOLS)"

_Pair = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True, eq=False)
class TimingChapter(Result):
    """Everything the timing chapter publishes.

    Attributes
    ----------
    event_study
        Coefficients by month since start (matched and weighted samples, employment and
        earnings): estimate, SE, pointwise CI and uniform band, and the weighted sample's
        bootstrap SE; the event-study figures are drawn from it.
    event_effects
        One effect per sample, outcome and month (reference month left out).
    event_tests
        Per ``{sample}_{outcome}``: the pre-trend Wald test, the sup-t critical value, the
        persons and person-months.
    event_bootstrap
        Per outcome: the weighted sample's bootstrap with re-estimated odds weights, its SEs
        relative to the clustered ones (empty when the bootstrap is switched off).
    window, months_shown
        The event-study window and the months the report tabulates.
    staggered
        Staggered DiD by period since start: ATT, analytic and bootstrap SE, critical value.
    staggered_bands
        What the staggered figures draw: the doubly robust ATT with its uniform band, the
        outcome-regression ATT and the TWFE estimate, by period since start.
    staggered_effects
        Event-time, cohort (cohorts with at least ``min_cell`` mentored) and overall ATTs.
    staggered_bands_stats
        Per ``{method}_{outcome}``: the multiplier bootstrap's critical value and cells.
    unit, n_cohorts, cohorts_withheld
        The period (``q``/``m``), the number of start cohorts, and the cohorts whose own
        estimate is withheld (fewer than ``min_cell`` mentored).
    twfe_effects, twfe_weights, twfe_weights_by_event_time
        The TWFE estimates and the weights TWFE puts on cohort-period cells (employment).
    job_steps
        The published points of the time-to-first-job curves (share with a job by month).
    km_job_share
        The curves read at the report's months (a share only where a point precedes it).
    cox_effect, cox_hazard_ratio, cox_bootstrap
        The Cox model on the matched sample, its hazard ratio, and the interval from the
        bootstrap of matched sets (``None`` when the bootstrap is switched off).
    counts, number_facts
        The persons each count counts and the facts of each number, by record key (private).
    """

    event_study: PublishedTable
    event_effects: tuple[EffectResult, ...]
    event_tests: dict[str, dict[str, Any]]
    event_bootstrap: dict[str, dict[str, Any]]
    window: dict[str, int]
    months_shown: list[int]
    staggered: PublishedTable
    staggered_bands: PublishedTable
    staggered_effects: tuple[EffectResult, ...]
    staggered_bands_stats: dict[str, dict[str, Any]]
    unit: str
    n_cohorts: int
    cohorts_withheld: dict[str, Any]
    twfe_effects: tuple[EffectResult, ...]
    twfe_weights: dict[str, Any]
    twfe_weights_by_event_time: PublishedTable
    job_steps: PublishedTable
    km_job_share: dict[str, Any]
    cox_effect: EffectResult
    cox_hazard_ratio: dict[str, float]
    cox_bootstrap: dict[str, Any] | None
    counts: dict[str, np.ndarray] = private(default_factory=dict)
    number_facts: dict[str, tuple[Fact, ...]] = private(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """The headline of each view: the overall staggered ATTs, TWFE and the Cox model."""
        rows = [e for e in self.staggered_effects if e.outcome.endswith("_overall")]
        return pd.DataFrame(
            [e.to_record() for e in [*rows, *self.twfe_effects, self.cox_effect]]
        )[  # fmt: skip
            ["outcome", "estimator", "estimate", "se", "ci_low", "ci_high", "p_value"]
        ]


@produced_by
def timing_chapter(
    covariates: pd.DataFrame,
    outcomes: pd.DataFrame,
    design_handover: pd.DataFrame,
    monthly_panel: str | Path,
    *,
    design: Mapping[str, Any],
    estimation: Mapping[str, Any],
    timing: Mapping[str, Any],
    seed: int,
    min_cell: int,
) -> TimingChapter:
    """Run the timing analyses and make their published tables, effects and numbers.

    Parameters
    ----------
    covariates, outcomes, design_handover
        The hand-overs of notebooks 01 and 02 (``design_data``, ``outcome_data``,
        ``design``): one row per person, the same persons in each (checked).
    monthly_panel
        The validated monthly rows handed over by notebook 01 (Parquet); only the persons of
        the analyses are read.
    design, estimation, timing
        The parameter file's sections (``design.covariates``/``exact``;
        ``estimation.level``/``matching``/``bootstrap``; ``timing``).
    seed
        The run's seed: each random draw has its own stream
        (:func:`evaluation.rng.stream`, purposes ``sup_t_*``, ``es_weights_*``, ``cs_*``,
        ``cox_matched_sets``).
    min_cell
        The disclosure threshold.
    """
    level = float(estimation["level"])
    boot = estimation["bootstrap"]
    persons = _trimmed_persons(covariates, design_handover)
    pairs = du.matched_set_pairs(persons, matching=estimation["matching"],
                                 exact=design.get("exact"))  # fmt: skip
    counts = {"timing_n_persons": persons["person_id"].to_numpy()}
    used = _analysis_persons(persons)
    monthly = read_handed_over_panel(monthly_panel, used["person_id"])
    panel = panel_relative(used[["person_id", "group", "start_month"]], monthly)
    del monthly
    panel["month"] = month_index(panel["month"]).to_numpy(dtype=np.int64)
    panel = panel.merge(used[["person_id", "match_weight", "ipw_weight"]], on="person_id",
                        how="left", validate="many_to_one")  # fmt: skip
    facts: dict[str, tuple[Fact, ...]] = {}
    ev = _event_studies(panel, used, design=design, timing=timing, level=level, seed=seed,
                        boot=boot, facts=facts)  # fmt: skip
    cs = _staggered(panel, used, design=design, timing=timing, level=level, seed=seed,
                    min_cell=min_cell, facts=facts)  # fmt: skip
    job = _time_to_job(used, outcomes, pairs, level=level, seed=seed, boot=boot,
                       min_cell=min_cell, facts=facts)  # fmt: skip
    lags = int(timing["lags"])
    return TimingChapter(
        **ev, **cs, **job,
        window={"leads": int(timing["leads"]), "lags": lags},
        months_shown=[k for k in MONTHS_SHOWN if k <= lags],
        counts=counts, number_facts=facts,
    )  # fmt: skip


# --- the sample --------------------------------------------------------------------------
def _trimmed_persons(covariates: pd.DataFrame, design_handover: pd.DataFrame) -> pd.DataFrame:
    """The persons the design stage kept, with covariates and design decisions, by id."""
    persons = covariates.merge(design_handover, on="person_id", how="inner",
                               validate="one_to_one")  # fmt: skip
    if not len(persons) == len(covariates) == len(design_handover):
        raise ValueError("the hand-over files cover different persons")
    persons = persons.loc[persons["keep"]].sort_values("person_id", kind="mergesort")
    return persons.reset_index(drop=True)


def _analysis_persons(persons: pd.DataFrame) -> pd.DataFrame:
    """The matched persons and the design stage's comparison subsample.

    The matched persons serve the matched event study and the time to the first job; the
    subsample (the whole pool unless it is larger than ``design.subsample_comparison``) the
    weighted event study, the staggered DiD and TWFE. The odds weights of sampled comparison
    persons are divided by the sampling fraction (Horvitz-Thompson), so they stand for the
    whole pool.
    """
    used = persons.loc[(persons["match_weight"] > 0) | persons["in_subsample"]]
    used = used.assign(ipw_weight=used["ipw_weight"] * used["subsample_weight"])
    return used.reset_index(drop=True)


def _sample_facts(where: tuple[Any, ...], pair: _Pair) -> list[Fact]:
    """A statistic on a sample: one ``sample`` fact per group (treated, control)."""
    return [fact(where, pair[0], "sample"), fact(where, pair[1], "sample")]


def _cell_facts(frame: pd.DataFrame, persons: Mapping[str, Mapping[Any, _Pair]]) -> list[Fact]:
    """Sample facts of a table's cells: ``persons[column][row]`` (a missing row: none)."""
    out: list[Fact] = []
    for col, by_row in persons.items():
        for row in frame.index:
            if row in by_row:
                out += _sample_facts((row_key(row), col), by_row[row])
    return out


# --- 1. the event study ------------------------------------------------------------------
def _event_studies(panel: pd.DataFrame, used: pd.DataFrame, *, design: Mapping[str, Any],
                   timing: Mapping[str, Any], level: float, seed: int,
                   boot: Mapping[str, Any], facts: dict[str, tuple[Fact, ...]]
                   ) -> dict[str, Any]:  # fmt: skip
    leads, lags = int(timing["leads"]), int(timing["lags"])
    bands: dict[tuple[str, str], dy.UniformBand] = {}
    studies: dict[tuple[str, str], dy.EventStudy] = {}
    effects: list[EffectResult] = []
    tests: dict[str, dict[str, Any]] = {}
    for sample, wcol in SAMPLES.items():
        for outcome in OUTCOMES:
            es = dy.event_study(panel, outcome=outcome, weight=wcol, leads=leads, lags=lags,
                                level=level)  # fmt: skip
            band = dy.sup_t_band(es, stream(seed, f"sup_t_{sample}_{outcome}"),
                                 draws=int(timing["bootstrap_draws"]))  # fmt: skip
            wald = dy.pretrend_test(es)
            studies[sample, outcome], bands[sample, outcome] = es, band
            rows = es.table.loc[es.table["event_time"] != es.reference]
            effects += [EffectResult.from_normal(
                estimate=r.estimate, se=r.se, level=level, outcome=f"{outcome}_rel_m{r.event_time}",
                estimator=f"event_study_{sample}", estimand=ES_ESTIMAND[sample],
                n_treated=es.n_treated, n_control=es.n_control, se_method=CLUSTERED,
                spec={"leads": leads, "lags": lags, "reference": -1}, persons=es.persons)
                for r in rows.itertuples()]  # fmt: skip
            key = f"{sample}_{outcome}"
            tests[key] = {"pretrend_wald": wald.statistic, "pretrend_df": wald.df,
                          "pretrend_p": wald.p_value, "sup_t": band.critical_value,
                          "n_treated": es.n_treated, "n_control": es.n_control,
                          "n_obs": es.n_obs}  # fmt: skip
            facts[f"es_{key}"] = (
                fact(("n_treated",), es.persons[0]), fact(("n_control",), es.persons[1]),
                *(f for name in ("pretrend_wald", "pretrend_p", "sup_t", "n_obs")
                  for f in _sample_facts((name,), es.persons)),
            )  # fmt: skip
    bootstrap: dict[str, dict[str, Any]] = {}
    boot_se: dict[str, pd.Series] = {}
    if int(boot["draws"]) > 0:
        for outcome in OUTCOMES:
            wb = dy.odds_weight_bootstrap(
                panel, used, outcome=outcome, covariates=list(design["covariates"]),
                leads=leads, lags=lags, draws=int(boot["draws"]),
                rng=stream(seed, f"es_weights_{outcome}"), scheme=boot["weights"])  # fmt: skip
            clustered = studies["ipw", outcome].table.dropna(subset=["se"])
            bootstrap[outcome] = wb.summary(clustered["se"].to_numpy())
            boot_se[outcome] = pd.Series(wb.se, index=clustered["event_time"].to_numpy())
            facts[f"es_ipw_{outcome}_bootstrap"] = tuple(
                f for name in ("se_ratio_median", "se_ratio_max")
                for f in _sample_facts((name,), studies["ipw", outcome].persons))  # fmt: skip
    table = pd.concat(
        {f"{sample}_{outcome}": b.table.set_index("event_time")[
            ["estimate", "se", "ci_low", "ci_high", "band_low", "band_high"]]
         for (sample, outcome), b in bands.items()}, axis=1)  # fmt: skip
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    for outcome, se in boot_se.items():  # the bootstrap SE beside the clustered SE
        table[f"ipw_{outcome}_se_bootstrap"] = se.reindex(table.index)
    table = table.round(6)
    at = {key: es.persons_at for key, es in studies.items()}
    cells = {col: at[tuple(col.split("_")[:2])] for col in table.columns}  # type: ignore[index]
    return {
        "event_study": PublishedTable(table, tuple(_cell_facts(table, cells))),
        "event_effects": tuple(effects),
        "event_tests": tests,
        "event_bootstrap": bootstrap,
    }


# --- 2. staggered DiD and TWFE -------------------------------------------------------------
def _staggered(panel: pd.DataFrame, used: pd.DataFrame, *, design: Mapping[str, Any],
               timing: Mapping[str, Any], level: float, seed: int, min_cell: int,
               facts: dict[str, tuple[Fact, ...]]) -> dict[str, Any]:  # fmt: skip
    unit = "q" if timing["cohort"] == "quarter" else "m"
    sub = used.loc[used["in_subsample"]].reset_index(drop=True)
    periods = st.period_panel(
        panel.loc[panel["person_id"].isin(sub["person_id"]),
                  ["person_id", "month", "employed", "earnings"]], unit=timing["cohort"])  # fmt: skip
    cs_persons, x_cols = st.cohort_persons(sub, covariates=list(design["covariates"]),
                                           unit=timing["cohort"])  # fmt: skip
    ids = cs_persons["person_id"].astype(str).to_numpy()
    treated = cs_persons["treated"].to_numpy() == 1
    start = cs_persons["start_period"].to_numpy()
    size = cs_persons.loc[treated, "start_period"].value_counts()
    z_cols = ["logit"] if timing["dr_propensity"] == "design_score" else None
    spec = {"control": timing["control"], "cohort": timing["cohort"],
            "dr_propensity": timing["dr_propensity"]}  # fmt: skip
    effects: list[EffectResult] = []
    stats: dict[str, dict[str, Any]] = {}
    parts: dict[str, pd.DataFrame] = {}
    cells: dict[str, dict[Any, _Pair]] = {}
    at_by: dict[tuple[str, str], dict[Any, _Pair]] = {}
    fits: dict[tuple[str, str], tuple[st.Aggregate, dy.Bootstrap]] = {}
    for outcome in OUTCOMES:
        cp = st.cohort_panel(periods, cs_persons, outcome=outcome, covariates=x_cols,
                             propensity_covariates=z_cols)  # fmt: skip
        for method in CS_METHODS:
            gt = st.att_gt(cp, method=method, control=timing["control"],
                           pre=int(timing["pre_periods"]), post=int(timing["post_periods"]))  # fmt: skip
            ev, co = st.aggregate_event_time(gt), st.aggregate_cohort(gt)
            bs = dy.multiplier_bootstrap(ev.influence, stream(seed, f"cs_{method}_{outcome}"),
                                         draws=int(timing["bootstrap_draws"]), level=level)  # fmt: skip
            fits[outcome, method] = (ev, bs)
            largest = int(gt.table["n_control"].to_numpy().argmax())
            controls = ids[gt.cell_persons[largest][1]]
            common = {"estimator": f"cs_{method}", "n_control": int(gt.table["n_control"].max()),
                      "se_method": "influence function (analytic)", "level": level,
                      "spec": spec}  # fmt: skip
            everyone = (ids[treated], controls)
            for r in ev.table.itertuples():
                effects.append(EffectResult.from_normal(
                    estimate=r.att, se=r.se, outcome=f"{outcome}_{unit}_rel{r.key}",
                    estimand=CS_ESTIMAND["rel"], n_treated=int(treated.sum()),
                    persons=everyone, **common))  # fmt: skip
            for r in co.table.itertuples():
                if r.key == "overall":
                    effects.append(EffectResult.from_normal(
                        estimate=r.att, se=r.se, outcome=f"{outcome}_{unit}_overall",
                        estimand=CS_ESTIMAND["overall"], n_treated=int(treated.sum()),
                        persons=everyone, **common))  # fmt: skip
                elif size.get(r.key, 0) >= min_cell:
                    label = st.period_label(int(r.key), timing["cohort"])
                    effects.append(EffectResult.from_normal(
                        estimate=r.att, se=r.se, outcome=f"{outcome}_{unit}_cohort{label}",
                        estimand=CS_ESTIMAND["cohort"], n_treated=int(size[r.key]),
                        persons=(ids[treated & (start == r.key)], controls), **common))  # fmt: skip
            key = f"{method}_{outcome}"
            stats[key] = {"critical_value": bs.critical_value, "draws": bs.draws,
                          "n_cells": int(len(gt.table)), "n_cells_failed": len(gt.failed)}  # fmt: skip
            at_by[method, outcome] = {e: _pair(ids, gt.event_time_persons(e))
                                      for e in ev.table["key"]}  # fmt: skip
            facts[f"cs_{key}_band"] = tuple(_sample_facts(("critical_value",),
                                                          _pair(ids, gt.all_persons())))  # fmt: skip
            parts[key] = ev.table.set_index("key")[["att", "se"]].assign(
                band_se=bs.se, critical_value=bs.critical_value
            )
            for col in ("att", "se", "band_se", "critical_value"):
                cells[f"{key}_{col}"] = at_by[method, outcome]
    # the table keeps the order the notebook always had: outcome outer, method inner
    table = pd.concat(parts, axis=1)
    table.columns = [f"{a}_{b}" for a, b in table.columns]
    table.index.name = "event_time"
    table = table.round(6)
    twfe = _twfe(periods, cs_persons, timing=timing, unit=unit, level=level, facts=facts)
    bands = _staggered_bands(fits, twfe["twfe_effects"], at_by, twfe["persons"])
    return {
        "staggered": PublishedTable(table, tuple(_cell_facts(table, cells))),
        "staggered_bands": bands,
        "staggered_effects": tuple(effects),
        "staggered_bands_stats": stats,
        "unit": unit,
        "n_cohorts": int(len(size)),
        "cohorts_withheld": {
            "cohorts": sorted(
                st.period_label(int(g), timing["cohort"]) for g in size.index if size[g] < min_cell
            ),
            "min_cell": int(min_cell),
        },  # fmt: skip
        **{k: v for k, v in twfe.items() if k != "persons"},
    }


def _pair(ids: np.ndarray, positions: tuple[np.ndarray, np.ndarray]) -> _Pair:
    return ids[positions[0]], ids[positions[1]]


def _staggered_bands(fits: Mapping[tuple[str, str], tuple[st.Aggregate, dy.Bootstrap]],
                     twfe: tuple[EffectResult, ...],
                     at_by: Mapping[tuple[str, str], Mapping[Any, _Pair]],
                     twfe_persons: Mapping[str, _Pair]) -> PublishedTable:  # fmt: skip
    """What the staggered figures draw, one row per period since start.

    The band is ``att ± c * se`` with ``c`` the multiplier bootstrap's uniform critical value
    and ``se`` its SE (the analytic SE where the bootstrap's is not finite).
    """
    cols: dict[str, pd.Series] = {}
    cells: dict[str, dict[Any, _Pair]] = {}
    for outcome in OUTCOMES:
        ev, bs = fits[outcome, "dr"]
        att = ev.table["att"].to_numpy()
        se = np.where(np.isfinite(bs.se), bs.se, ev.table["se"].to_numpy())
        keys = ev.table["key"].to_numpy()
        cols[f"{outcome}_dr_att"] = pd.Series(att, index=keys)
        cols[f"{outcome}_dr_band_low"] = pd.Series(att - bs.critical_value * se, index=keys)
        cols[f"{outcome}_dr_band_high"] = pd.Series(att + bs.critical_value * se, index=keys)
        orr = fits[outcome, "or"][0].table
        cols[f"{outcome}_or_att"] = pd.Series(orr["att"].to_numpy(), index=orr["key"].to_numpy())
        for c in ("att", "band_low", "band_high"):
            cells[f"{outcome}_dr_{c}"] = dict(at_by["dr", outcome])
        cells[f"{outcome}_or_att"] = dict(at_by["or", outcome])
    table = pd.DataFrame(cols)
    table.index.name = "event_time"
    for outcome in OUTCOMES:
        tw = next(e for e in twfe if e.outcome.startswith(f"{outcome}_"))
        table[f"{outcome}_twfe"] = tw.estimate
        cells[f"{outcome}_twfe"] = dict.fromkeys(table.index, twfe_persons[outcome])
    table = table[[f"{o}_{c}" for o in OUTCOMES
                   for c in ("dr_att", "dr_band_low", "dr_band_high", "or_att", "twfe")]]  # fmt: skip
    table = table.round(6)
    return PublishedTable(table, tuple(_cell_facts(table, cells)))


def _twfe(periods: pd.DataFrame, cs_persons: pd.DataFrame, *, timing: Mapping[str, Any],
          unit: str, level: float, facts: dict[str, tuple[Fact, ...]]) -> dict[str, Any]:  # fmt: skip
    """TWFE on the staggered DiD's periods, and the weights it puts on cohort-period cells."""
    tw_panel = dy.twfe_panel(periods, cs_persons, pre=int(timing["pre_periods"]),
                             post=int(timing["post_periods"]))  # fmt: skip
    effects, persons = [], {}
    for outcome in OUTCOMES:
        tw = dy.twfe(tw_panel, outcome=outcome)
        persons[outcome] = tw.persons
        effects.append(EffectResult.from_normal(
            estimate=tw.estimate, se=tw.se, level=level, outcome=f"{outcome}_{unit}_overall",
            estimator="twfe", estimand=TWFE_ESTIMAND, n_treated=tw.n_treated,
            n_control=tw.n_control, se_method=CLUSTERED, persons=tw.persons))  # fmt: skip
    wts = dy.twfe_weights(tw_panel, outcome="employed")
    neg = wts["weight"] < 0
    by_e = wts.groupby("event_time")["weight"].agg(["sum", "min"]).rename(
        columns={"sum": "weight", "min": "smallest_cell_weight"}).round(6)  # fmt: skip
    # a cell's weight is a statistic of the design: the started persons of that period since
    # start beside all comparison persons
    on = tw_panel.dropna(subset=["employed"])
    started = on.loc[(on["cohort"] >= 0) & (on["period"] >= on["cohort"])]
    rel = started["period"] - started["cohort"]
    controls = persons["employed"][1]
    cell_facts = [f for e in by_e.index for col in by_e.columns
                  for f in _sample_facts((row_key(e), col), (
                      started.loc[rel == e, "person_id"], controls))]  # fmt: skip
    facts["twfe_weights"] = tuple(_sample_facts(("sum_negative",), persons["employed"]))
    return {
        "twfe_effects": tuple(effects),
        "twfe_weights": {
            "n_cells": int(len(wts)),
            "n_negative": int(neg.sum()),
            "sum_negative": float(wts.loc[neg, "weight"].sum()),
        },  # fmt: skip
        "twfe_weights_by_event_time": PublishedTable(by_e, tuple(cell_facts)),
        "persons": persons,
    }


# --- 3. time to the first job ------------------------------------------------------------
def _time_to_job(used: pd.DataFrame, outcomes: pd.DataFrame, pairs: pd.DataFrame, *,
                 level: float, seed: int, boot: Mapping[str, Any], min_cell: int,
                 facts: dict[str, tuple[Fact, ...]]) -> dict[str, Any]:  # fmt: skip
    surv = used[["person_id", "treated", "match_weight"]].merge(
        outcomes[["person_id", "months_to_job", "job_found"]], on="person_id",
        validate="one_to_one")  # fmt: skip
    surv = surv.loc[(surv["match_weight"] > 0) & surv["months_to_job"].notna()]
    surv = surv.reset_index(drop=True)
    grid = np.arange(1, int(surv["months_to_job"].max()) + 1)
    ids = surv["person_id"].astype(str).to_numpy()
    points, cell_facts = {}, []
    for label, flag in (("mentored", 1), ("comparison", 0)):
        g = surv.loc[surv["treated"] == flag]
        km = du.kaplan_meier(g["months_to_job"], g["job_found"], g["match_weight"])
        points[label] = du.disclosure_steps(km, grid, min_cell)
    steps = du.step_shares(points)
    share_facts: list[Fact] = []
    months = [m for m in JOB_MONTHS if m <= grid.max()]
    read = {"months": months}
    for label, flag in (("mentored", 1), ("comparison", 0)):
        group = surv["treated"].to_numpy() == flag
        job = group & (surv["job_found"].to_numpy() == 1)
        by = {int(t): ids[job & (surv["months_to_job"].to_numpy() <= t)]
              for t in points[label]["time"] if t > 0}  # fmt: skip
        cell_facts += [fact((row_key(t), label), who) for t, who in by.items()]
        read[label] = {}
        for m in months:
            point = du.last_point(points[label], m)
            read[label][str(m)] = None if point is None else float(1 - point.survival)
            if point is not None:
                share_facts.append(fact((label, str(m)), by[int(point.time)]))
    facts["km_job_share"] = tuple(share_facts)
    treated = surv["treated"].to_numpy() == 1
    cox = du.cox_ph(surv["months_to_job"], surv["job_found"], surv[["treated"]],
                    weights=surv["match_weight"])  # fmt: skip
    hr = cox.hazard_ratio(level).iloc[0]
    sample = (ids[treated], ids[~treated])
    effect = EffectResult.from_normal(
        estimate=float(cox.params[0]), se=float(cox.se[0]), level=level, outcome="months_to_job",
        estimator="cox_matched", estimand=COX_ESTIMAND, n_treated=int(treated.sum()),
        n_control=int(len(surv) - treated.sum()),
        se_method="robust sandwich (Lin & Wei 1989)", persons=sample)  # fmt: skip
    hazard = {"hr": hr["hazard_ratio"], "ci_low": hr["ci_low"], "ci_high": hr["ci_high"],
              "p_value": hr["p_value"]}  # fmt: skip
    facts["cox_hazard_ratio"] = tuple(f for name in hazard
                                      for f in _sample_facts((name,), sample))  # fmt: skip
    cox_boot = None
    if int(boot["draws"]) > 0:
        mb = du.cox_matched_set_bootstrap(
            surv["months_to_job"], surv["job_found"], surv[["treated"]],
            du.pair_rows(pairs, surv["person_id"]), stream(seed, "cox_matched_sets"),
            draws=int(boot["draws"]))  # fmt: skip
        cox_boot = {"se_log_hr_robust": float(cox.se[0]), "se_log_hr_bootstrap": mb.se,
                    **mb.interval(float(cox.params[0]), level),
                    "draws": int(boot["draws"]), "n_failed": mb.n_failed, "method": mb.method}  # fmt: skip
        facts["cox_bootstrap"] = tuple(
            f for name in ("se_log_hr_bootstrap", "ci_low", "ci_high", "p_value")
            for f in _sample_facts((name,), sample))  # fmt: skip
    return {
        "job_steps": PublishedTable(steps, tuple(cell_facts)),
        "km_job_share": read,
        "cox_effect": effect,
        "cox_hazard_ratio": hazard,
        "cox_bootstrap": cox_boot,
    }
