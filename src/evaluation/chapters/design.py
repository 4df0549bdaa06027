"""The design chapter (notebook 02): propensity score, overlap, trimming, matching, balance.

It sees the covariates and the treatment, never an outcome (Rubin 2008, "For objective
causal inference, design trumps analysis"). The numbers happen in
:func:`evaluation.design.study.study_design`; this module turns them into the tables the
report publishes, after primary disclosure control, each with the facts its cells give away
(:mod:`evaluation.disclosure.ledger`), so that the run's disclosure audit can check them
against every other published number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.describe import group_shares, protect_margined
from evaluation.design.balance import BalanceTable, InteractionBalance
from evaluation.design.propensity import design_matrix
from evaluation.design.study import (
    TREATMENT,
    ComparisonSubsample,
    StudyDesign,
    comparison_subsample,
    study_design,
)
from evaluation.disclosure.ledger import Fact, PublishedTable, fact, row_key
from evaluation.protocol import Result, private, produced_by
from evaluation.text import catalogue
from evaluation.text.numbers import format_number

#: The samples of the balance table, in its column order.
BALANCE_SAMPLES = ("before", "trimmed", "matched", "weighted", "entropy", "overlap")
#: Balance samples in which every person counts once (the others are weighted).
UNWEIGHTED = ("before", "trimmed")
#: Number of bins of the overlap figure (equal width on the logit of the propensity score).
OVERLAP_BINS = 8


@dataclass(frozen=True, eq=False)
class DesignChapter(Result):
    """Everything the design chapter publishes, and the design it hands on (privately).

    Attributes
    ----------
    propensity
        The re-fitted propensity model's coefficients and standard errors.
    fit
        Its fit statistics (:meth:`PropensityFit.summary_dict`).
    overlap
        Each group's share of persons in bins of the propensity score's logit.
    trimming, category_support
        Persons before and after each step of trimming; the categories only one group has.
    balance
        SMDs before and after trimming, matching and weighting, and variance ratios.
    balance_summaries
        Per sample: largest |SMD|, terms above the threshold, number of terms, ESS.
    subsample
        The comparison subsample for the repeated analyses.
    counts
        The persons each count of the chapter counts (private: the audit's facts).
    subsample_facts
        The persons ``subsample.summary()``'s ``n_pool`` and ``n_drawn`` count (private).
    design
        The person-level design (private).
    hand_over
        Per-person design decisions for the later notebooks (private).
    """

    propensity: PublishedTable
    fit: dict[str, Any]
    overlap: PublishedTable
    trimming: PublishedTable
    category_support: PublishedTable
    balance: PublishedTable
    balance_summaries: dict[str, dict[str, Any]]
    subsample: ComparisonSubsample
    counts: dict[str, np.ndarray] = private(default_factory=dict)
    fit_facts: tuple[Fact, ...] = private(default=())
    summary_facts: dict[str, tuple[Fact, ...]] = private(default_factory=dict)
    subsample_facts: tuple[Fact, ...] = private(default=())
    design: StudyDesign | None = private(default=None)
    hand_over: pd.DataFrame | None = private(default=None)

    def to_frame(self) -> pd.DataFrame:
        """The balance summaries, one row per sample."""
        return pd.DataFrame(self.balance_summaries).T.rename_axis("sample")


@produced_by
def design_chapter(
    frame: pd.DataFrame,
    *,
    design: Mapping[str, Any],
    matching: Mapping[str, Any],
    rng: np.random.Generator,
    min_cell: int,
    language: str = "en",
) -> DesignChapter:
    """Run the design stage and make its published tables.

    Parameters
    ----------
    frame
        One row per person: ``person_id``, ``treated`` and the covariates (no outcome).
    design, matching
        The parameter file's ``design`` and ``estimation.matching`` sections.
    rng
        ``evaluation.rng.stream(seed, "comparison_subsample")``.
    min_cell
        The disclosure threshold.
    language
        The report's language (the overlap bins' labels are written in it).
    """
    covariates = list(design["covariates"])
    dsg = study_design(frame, covariates=covariates, design=design, matching=matching)
    ids = frame["person_id"].astype(str)
    treated = frame[TREATMENT] == 1
    hand = dsg.hand_over()
    sub = comparison_subsample(frame.loc[hand.index, TREATMENT].to_numpy(),
                               int(design["subsample_comparison"]), rng)  # fmt: skip
    hand["in_subsample"] = sub.mask
    hand["subsample_weight"] = sub.weights(frame.loc[hand.index, TREATMENT].to_numpy())
    counts = _counts(dsg, ids, treated)
    hand_ids = ids.loc[hand.index].to_numpy()
    comparison = frame.loc[hand.index, TREATMENT].to_numpy() != 1
    subsample_facts = (  # the pool and the persons drawn from it, as the summary counts them
        fact(("n_pool",), hand_ids[comparison]),
        fact(("n_drawn",), hand_ids[comparison & sub.mask]),
    )
    fit_facts = (
        fact(("n_obs",), ids.loc[dsg.sample.index]),
        fact(("n_treated",), ids.loc[dsg.sample.index[dsg.sample[TREATMENT] == 1]]),
    )
    balance, summaries, summary_facts = _balance(dsg, frame, ids, float(design[
        "balance_threshold"]))  # fmt: skip
    return DesignChapter(
        propensity=PublishedTable(
            pd.DataFrame({"coefficient": dsg.propensity.params, "se": dsg.propensity.bse})
            .round(4)
            .rename_axis("term")
        ),  # fmt: skip
        fit=dsg.propensity.summary_dict(),
        overlap=_overlap(dsg, frame, min_cell, language),
        trimming=_trimming(dsg, frame, ids, min_cell),
        category_support=_category_support(dsg, frame, ids, covariates, min_cell),
        balance=balance,
        balance_summaries=summaries,
        subsample=sub,
        counts=counts,
        fit_facts=fit_facts,
        summary_facts=summary_facts,
        subsample_facts=subsample_facts,
        design=dsg,
        hand_over=hand,
    )


def _counts(dsg: StudyDesign, ids: pd.Series, treated: pd.Series) -> dict[str, np.ndarray]:
    """The persons behind each count the chapter publishes."""
    cat_out = ~dsg.category_support.keep
    inside = dsg.category_support.keep[dsg.category_support.keep].index
    trimmed = inside[~dsg.support.keep.reindex(inside).fillna(False).to_numpy(dtype=bool)]
    w = dsg.matching.weights
    sample_t = dsg.sample.index[dsg.sample[TREATMENT] == 1]
    matched = w.index[(w > 0) & treated.reindex(w.index).to_numpy()]
    return {
        "n_outside_category_support": ids.loc[cat_out[cat_out].index].to_numpy(),
        "n_trimmed_treated": ids.loc[trimmed[treated.loc[trimmed].to_numpy()]].to_numpy(),
        "n_trimmed_control": ids.loc[trimmed[~treated.loc[trimmed].to_numpy()]].to_numpy(),
        "n_matched": ids.loc[matched].to_numpy(),
        "n_unmatched": ids.loc[sample_t.difference(matched)].to_numpy(),
        "n_controls_used": ids.loc[
            w.index[(w > 0) & ~treated.reindex(w.index).to_numpy()]
        ].to_numpy(),
    }


def _overlap(dsg: StudyDesign, frame: pd.DataFrame, k: int, language: str) -> PublishedTable:
    """Each group's share of persons in equal-width bins of the logit (fitted on all)."""
    logit = dsg.propensity_all.linear_predictor
    edges = list(np.linspace(float(logit.min()) - 1e-9, float(logit.max()), OVERLAP_BINS + 1))
    L = catalogue(language).section("figure")
    names = [L["range"].format(a=format_number(a, language, 1), b=format_number(b, language, 1))
             for a, b in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip
    groups = frame.loc[logit.index, TREATMENT].map({1: "mentored", 0: "comparison"})
    data = pd.DataFrame({"person_id": frame.loc[logit.index, "person_id"], "group": groups,
                         "logit": logit})  # fmt: skip
    return group_shares(data, "group", "logit", edges, names, k)


def _trimming(dsg: StudyDesign, frame: pd.DataFrame, ids: pd.Series, k: int) -> PublishedTable:
    """Persons before trimming, set aside by category support, trimmed, and kept."""
    treated = frame[TREATMENT] == 1
    cat_out = ~dsg.category_support.keep
    inside = dsg.category_support.keep[dsg.category_support.keep].index
    dropped = inside[~dsg.support.keep.reindex(inside).fillna(False).to_numpy(dtype=bool)]
    steps = {
        "before trimming": frame.index,
        "in a category only one group has": cat_out[cat_out].index,
        "trimmed by the propensity-score rule": dropped,
        "after trimming": dsg.sample.index,
    }
    table = pd.DataFrame(
        {
            g: [int(treated.loc[idx].eq(flag).sum()) for idx in steps.values()]
            for g, flag in (("mentored", True), ("comparison", False))
        },  # fmt: skip
        index=pd.Index(list(steps), name="step"),
    )
    shown = protect_margined(table, ["mentored", "comparison"], k, total_row="before trimming")
    facts = tuple(
        fact((step, g), ids.loc[idx[treated.loc[idx].eq(flag).to_numpy()]])
        for step, idx in steps.items()
        for g, flag in (("mentored", True), ("comparison", False))
    )
    return PublishedTable(shown, facts)


def _category_support(dsg: StudyDesign, frame: pd.DataFrame, ids: pd.Series,
                      covariates: list[str], k: int) -> PublishedTable:  # fmt: skip
    """Categories only one group has, with the persons in each."""
    removed = dsg.category_support.removed
    table = removed.set_index(["covariate", "level"])
    shown = protect_margined(table, ["persons"], k)
    facts = tuple(
        fact((row_key((r.covariate, r.level)), "persons"),
             ids.loc[frame.index[frame[r.covariate].astype(str).eq(r.level).to_numpy()]])
        for r in removed.itertuples()
    )  # fmt: skip
    return PublishedTable(shown, facts)


def _balance(
    dsg: StudyDesign, frame: pd.DataFrame, ids: pd.Series, threshold: float
) -> tuple[PublishedTable, dict[str, dict[str, Any]], dict[str, tuple[Fact, ...]]]:
    """The balance table, its summaries, and the facts of both.

    An SMD of a 0/1 term in an unweighted sample gives away how many persons of one group
    have the term once the other group's share is known (the descriptive table shows the
    comparison pool's): its cell's facts are those persons in both groups (``count``). In a
    weighted sample (matching weights, odds weights) both sides are weighted means with
    unpublished weights: the SMD pins no count, and its facts are ``sample`` facts (the audit
    withholds it if a side rests on fewer than k persons). The largest |SMD| of a sample
    gives away the same as the cell it is taken from.
    """
    table = dsg.balance_frame().round(3)
    dm = design_matrix(frame, list(dsg.covariates), drop_collinear=False)
    terms = _term_indicators(dm, frame.index)
    facts: list[Fact] = []
    summary_facts: dict[str, tuple[Fact, ...]] = {}
    summaries: dict[str, dict[str, Any]] = {}
    for name, bal in dsg.balance.items():
        treated_w, control_w = _sample_members(dsg, name, frame)
        cols = (f"smd_{name}", f"ks_{name}")  # a 0/1 term's KS is its difference in shares
        cell_facts: dict[str, list[Fact]] = {}
        ks_cell: dict[str, list[Fact]] = {}
        for term in table.index:
            x = terms.get(term)
            on = (x == 1) if x is not None else None
            t_ids = (
                ids.loc[treated_w[on.loc[treated_w].to_numpy()]]
                if on is not None
                else ids.loc[treated_w]
            )
            c_ids = (
                ids.loc[control_w[on.loc[control_w].to_numpy()]]
                if on is not None
                else ids.loc[control_w]
            )
            # unweighted samples: each side's share of the term is a count over a published
            # total, and the SMD pins one side once the other is known; weighted samples
            # (matching, odds weights): both sides are weighted means, no count is pinned
            counted = on is not None and name in UNWEIGHTED
            kinds = ("count", "count") if counted else ("sample", "sample")
            cell_facts[term] = [fact((row_key(term), cols[0]), t_ids, kinds[0]),
                                fact((row_key(term), cols[0]), c_ids, kinds[1])]  # fmt: skip
            ks_cell[term] = _ks_facts((row_key(term), cols[1]), term, bal, dm.frame, ids,
                                      treated_w, control_w, unweighted=name in UNWEIGHTED,
                                      shares=cell_facts[term])  # fmt: skip
            facts += cell_facts[term] + ks_cell[term]
        inter = dsg.interactions[name]
        summaries[name] = _summary(bal, inter)
        worst, worst_ks = bal.table["smd"].abs().idxmax(), bal.table["ks"].idxmax()
        summary_facts[name] = (
            *(Fact(("max_abs_smd",), f.persons, f.kind) for f in cell_facts.get(worst, [])),
            *(Fact(("max_ks",), f.persons, f.kind) for f in ks_cell.get(worst_ks, [])),
            *_interaction_facts(inter, terms, ids, treated_w, control_w, name in UNWEIGHTED),
            # Kish's effective size of equal weights is the number of comparison persons
            fact(("ess_control",), ids.loc[control_w],
                 "count" if name in UNWEIGHTED else "sample"),
        )  # fmt: skip
    return PublishedTable(table, tuple(facts)), summaries, summary_facts


def _ks_facts(
    where: tuple[str, str],
    term: str,
    bal: BalanceTable,
    values: pd.DataFrame,
    ids: pd.Series,
    treated: pd.Index,
    control: pd.Index,
    *,
    unweighted: bool,
    shares: list[Fact],
) -> list[Fact]:
    """The persons behind a KS cell.

    In an unweighted sample the statistic is the difference of the two groups' shares of
    persons at or below the value where it is largest: those persons are counted (for a 0/1
    term, the same persons as its SMD cell's shares, ``shares``). In a weighted sample both
    sides are weighted shares: ``sample`` facts.
    """
    if term not in bal.table.index:  # no such term in this sample: an empty cell
        return []
    if not unweighted:
        return [fact(where, ids.loc[treated], "sample"), fact(where, ids.loc[control], "sample")]
    if term not in values.columns or bool(bal.table.loc[term, "binary"]):
        return [Fact(where, f.persons, f.kind) for f in shares]
    below = values[term] <= bal.table.loc[term, "ks_at"]
    return [fact(where, ids.loc[treated[below.loc[treated].to_numpy()]], "count"),
            fact(where, ids.loc[control[below.loc[control].to_numpy()]], "count")]  # fmt: skip


def _summary(bal: BalanceTable, inter: InteractionBalance) -> dict[str, Any]:
    return {"max_abs_smd": bal.max_abs_smd, "n_flagged": bal.n_flagged,
            "n_terms": int(len(bal.table)), "ess_control": bal.ess_control,
            "max_ks": bal.max_ks, "n_var_ratio_out": bal.n_var_ratio_out,
            "n_var_ratio_terms": int(bal.table["var_ratio"].notna().sum()),
            "max_abs_smd_interactions": inter.max_abs_smd,
            "n_flagged_interactions": inter.n_flagged,
            "n_interaction_terms": int(len(inter.table))}  # fmt: skip


def _interaction_facts(
    inter: InteractionBalance,
    terms: dict[str, pd.Series],
    ids: pd.Series,
    treated: pd.Index,
    control: pd.Index,
    unweighted: bool,
) -> tuple[Fact, ...]:
    """The persons behind the largest interaction SMD of a sample.

    In an unweighted sample a product of two 0/1 terms is a count (the persons who have
    both), pinned once the other group's share is known; otherwise both sides are means
    over the sample (``sample`` facts), as for the main terms.
    """
    if not len(inter.table):
        return ()
    worst = inter.table.loc[inter.table["smd"].abs().idxmax()]
    a, b = terms.get(worst["term_a"]), terms.get(worst["term_b"])
    where = ("max_abs_smd_interactions",)
    if unweighted and bool(worst["binary"]) and a is not None and b is not None:
        both = (a * b) == 1
        return (fact(where, ids.loc[treated[both.loc[treated].to_numpy()]], "count"),
                fact(where, ids.loc[control[both.loc[control].to_numpy()]], "count"))  # fmt: skip
    return (fact(where, ids.loc[treated], "sample"), fact(where, ids.loc[control], "sample"))


def _term_indicators(dm: Any, index: pd.Index) -> dict[str, pd.Series]:
    """0/1 indicator of each binary balance term (reference levels included)."""
    out: dict[str, pd.Series] = {}
    for col in dm.frame.columns:
        x = dm.frame[col]
        if bool(np.isin(x.to_numpy(), (0.0, 1.0)).all()):
            out[col] = x.reindex(index)
    for source, ref in dm.reference_levels.items():
        others = [c for c in dm.frame.columns if dm.source[c] == source]
        out[f"{source}={ref}"] = (1.0 - dm.frame[others].sum(axis=1)).reindex(index)
    return out


def _sample_members(dsg: StudyDesign, name: str, frame: pd.DataFrame
                    ) -> tuple[pd.Index, pd.Index]:  # fmt: skip
    """The treated and the control rows of a balance sample with positive weight."""
    rows = frame.index if name == "before" else dsg.sample.index
    t = frame.loc[rows, TREATMENT] == 1
    if name in dsg.sample_weights:
        w = dsg.sample_weights[name].reindex(rows).fillna(0.0)
    else:
        w = pd.Series(1.0, index=rows)
    pos = w > 0
    return rows[(t & pos).to_numpy()], rows[(~t & pos).to_numpy()]
