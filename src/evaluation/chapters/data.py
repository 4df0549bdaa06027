"""The data chapter (notebook 01): the inputs, who is analysed and why, and who they are.

The input tables arrive validated (:func:`evaluation.data.contract.load_study`); the analysis
data are assembled by :func:`evaluation.design.sample.build_analysis` (pseudo starts,
outcomes, exclusions, sample flow); the descriptive tables by :mod:`evaluation.data.describe`.
This module turns them into the tables and numbers the report publishes, after primary
disclosure control, each with the facts its cells give away
(:mod:`evaluation.disclosure.ledger`), so that the run's disclosure audit can check them
against every other published number: a cell of the sample flow counts the persons of its
step and group; a descriptive ``n (%)`` the persons of its group with that value; a
``mean (SD)`` rests on the persons of its group with a value.

It also prepares, privately, what the later notebooks read: the covariates (the design stage
sees no outcome), the outcomes, and the monthly rows of the analysed persons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evaluation.config import outcome_names
from evaluation.data.contract.validate import StudyTables
from evaluation.data.describe import (
    GROUPS,
    describe_by_group,
    group_shares,
    protect_flow,
    protect_margined,
)
from evaluation.design.sample import AnalysisData, build_analysis
from evaluation.disclosure.ledger import PublishedTable, fact, row_key
from evaluation.protocol import Result, private, produced_by

#: Optional input tables: an analysis that needs one is skipped when it is absent.
OPTIONAL_TABLES = ("survey", "sessions", "mentors")
#: Numeric characteristics of the descriptive table (``mean (SD)``), those present.
DESCRIPTIVE_NUMERIC = ("age", "years_in_sweden", "pre_months_employed_12", "pre_earnings_12")
#: Categorical characteristics of the descriptive table (``n (%)``), those present.
DESCRIPTIVE_CATEGORICAL = ("sex", "education", "swedish_level", "origin_region")
#: Bins of months employed in the year before start (right-closed) and their labels.
PRE_EMPLOYMENT_BINS = (-0.5, 0.0, 3.0, 6.0, 9.0, 12.0)
PRE_EMPLOYMENT_LABELS = ("0", "1-3", "4-6", "7-9", "10-12")
#: The numeric column the pre-employment figure bins.
PRE_EMPLOYMENT_COLUMN = "pre_months_employed_12"
#: Columns of the analysis data that are outcomes besides those of each horizon: they go to
#: the outcome file, never to the design stage.
OTHER_OUTCOMES = ("months_to_job", "job_found", "months_after")
#: The hand-over files in the run's private scratch folder (names the later notebooks read).
HAND_OVER_FILES = {
    "design_data": "design_data.parquet",
    "outcome_data": "outcome_data.parquet",
    "monthly_panel": "monthly_panel.parquet",
}
#: Row groups of the monthly hand-over (one for a study-sized panel: read whole, fast).
MONTHLY_ROW_GROUP = 1_000_000


@dataclass(frozen=True, eq=False)
class DataChapter(Result):
    """Everything the data chapter publishes, and what it hands on (privately).

    Attributes
    ----------
    input_tables
        One row per contract table: file name, rows, columns of the file, extra columns,
        status.
    optional_present
        The optional tables given (:data:`OPTIONAL_TABLES`).
    skipped
        Each optional table absent, with the reason its analyses are skipped.
    sample_flow
        Persons in, pseudo starts, each exclusion, analysed, and the analysed whose data end
        before each horizon, by group.
    short_coverage
        The analysed whose data do not reach each horizon, by group.
    start_months
        First and last start month of the mentored analysed.
    descriptives
        Characteristics at start by group: ``mean (SD)`` or ``n (%)``.
    pre_employment
        Each group's share of persons by months employed in the year before start (the
        figure's table).
    counts
        The persons each published count counts: ``n_mentored``, ``n_comparison``,
        ``n_pseudo_starts`` (private: the audit's facts).
    analysis
        The analysis data and the accounting of everybody (private).
    design_data, outcome_data, monthly_panel
        The hand-over to the later notebooks (private, person-level): covariates and
        treatment, outcomes, the analysed persons' monthly rows.
    """

    input_tables: PublishedTable
    optional_present: list[str]
    skipped: dict[str, str]
    sample_flow: PublishedTable
    short_coverage: PublishedTable
    start_months: dict[str, str]
    descriptives: PublishedTable
    pre_employment: PublishedTable
    counts: dict[str, np.ndarray] = private(default_factory=dict)
    analysis: AnalysisData | None = private(default=None)
    design_data: pd.DataFrame | None = private(default=None)
    outcome_data: pd.DataFrame | None = private(default=None)
    monthly_panel: pd.DataFrame | None = private(default=None)

    def to_frame(self) -> pd.DataFrame:
        """The sample flow as published."""
        return self.sample_flow.frame


@produced_by
def data_chapter(
    tables: StudyTables,
    *,
    outcomes: Mapping[str, Any],
    rng: np.random.Generator,
    min_cell: int,
) -> DataChapter:
    """Assemble the analysis data and make the data chapter's published tables.

    Parameters
    ----------
    tables
        The validated input tables (:func:`evaluation.data.contract.load_study`).
    outcomes
        The parameter file's ``outcomes`` section (``horizons``, ``pre_months``,
        ``min_pre_months``).
    rng
        ``evaluation.rng.stream(seed, "pseudo_starts")``.
    min_cell
        The disclosure threshold.
    """
    analysis = build_analysis(
        tables.participants,
        tables.monthly,
        horizons=outcomes["horizons"],
        pre_months=outcomes["pre_months"],
        min_pre_months=outcomes["min_pre_months"],
        rng=rng,
    )
    frame = analysis.frame
    treated = frame["treated"].to_numpy() == 1
    ids = frame["person_id"].astype(str)
    mentored_starts = frame.loc[treated, "start_month"]
    design_data, outcome_data = _split_outcomes(frame, outcomes["horizons"])
    monthly = tables.monthly
    return DataChapter(
        input_tables=_input_tables(tables),
        optional_present=[n for n in OPTIONAL_TABLES if getattr(tables, n) is not None],
        skipped={
            n: f"the optional table '{n}' is absent from the inputs"
            for n in OPTIONAL_TABLES
            if getattr(tables, n) is None
        },
        sample_flow=_sample_flow(analysis, min_cell),
        short_coverage=_short_coverage(analysis, min_cell),
        start_months={"first": str(mentored_starts.min()), "last": str(mentored_starts.max())},
        descriptives=_descriptives(frame, min_cell),
        pre_employment=group_shares(
            _by_group(frame),
            "group",
            PRE_EMPLOYMENT_COLUMN,
            list(PRE_EMPLOYMENT_BINS),
            list(PRE_EMPLOYMENT_LABELS),
            min_cell,
        ),
        counts={
            "n_mentored": ids[treated].to_numpy(),
            "n_comparison": ids[~treated].to_numpy(),
            "n_pseudo_starts": analysis.persons("pseudo start assigned"),
        },
        analysis=analysis,
        design_data=design_data,
        outcome_data=outcome_data,
        monthly_panel=monthly.loc[monthly["person_id"].isin(frame["person_id"])],
    )


def _by_group(frame: pd.DataFrame) -> pd.DataFrame:
    """The analysis data with ``group`` named as in the tables' columns (:data:`GROUPS`)."""
    return frame.assign(group=frame["treated"].map({1: "mentored", 0: "comparison"}))


def _input_tables(tables: StudyTables) -> PublishedTable:
    """The validation summary, file names only, with the persons its participants row counts.

    A full path can name the evaluator's machine or user: only the file's name is published.
    The participants table's rows are persons (every participant, before any exclusion); the
    other tables' rows are person-months, answers, sessions or mentors.
    """
    summary = tables.summary()
    summary["file"] = summary["file"].map(lambda f: Path(f).name if isinstance(f, str) else f)
    shown = summary.set_index("table")
    facts = (fact((row_key("participants"), "rows"), tables.participants["person_id"]),)
    return PublishedTable(shown, facts)


def _sample_flow(analysis: AnalysisData, k: int) -> PublishedTable:
    """The sample flow after primary disclosure control, a fact per count cell."""
    shown = protect_flow(analysis.flow, k)
    facts = tuple(
        fact((row_key(step), col), analysis.persons(step, None if col == "total" else col))
        for step in shown.index
        for col in (*GROUPS, "total")
    )
    return PublishedTable(shown, facts)


def _short_coverage(analysis: AnalysisData, k: int) -> PublishedTable:
    """The analysed whose data end before each horizon, by group, a fact per cell."""
    table = analysis.short_coverage
    shown = protect_margined(table, [*GROUPS, "total"], k, total_column="total")
    facts = tuple(
        fact((row_key(h), col), analysis.short_coverage_persons(h, None if col == "total"
                                                                 else col))
        for h in table.index
        for col in (*GROUPS, "total")
    )  # fmt: skip
    return PublishedTable(shown, facts)


def _descriptives(frame: pd.DataFrame, k: int) -> PublishedTable:
    """Characteristics at start by group: numeric ``mean (SD)``, categorical ``n (%)``."""
    data = _by_group(frame)
    return describe_by_group(data, "group", [c for c in DESCRIPTIVE_NUMERIC if c in data],
                             [c for c in DESCRIPTIVE_CATEGORICAL if c in data], k)  # fmt: skip


def _split_outcomes(frame: pd.DataFrame, horizons: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The covariates (every column but the outcomes) and the outcomes, both by person."""
    outcome_cols = [*outcome_names(list(horizons)), *OTHER_OUTCOMES]
    design_cols = [c for c in frame.columns if c not in outcome_cols]
    return frame[design_cols], frame[["person_id", *outcome_cols]]


def write_hand_over(chapter: DataChapter, scratch_dir: str | Path) -> dict[str, Path]:
    """Write the hand-over files into the run's private scratch folder; return their paths.

    ``design_data.parquet`` (covariates and treatment, no outcome: the design stage is blind
    to outcomes), ``outcome_data.parquet`` (``person_id`` and the outcomes) and
    ``monthly_panel.parquet`` (the validated monthly rows of the analysed persons, so that
    the later notebooks read a part of them instead of reading and validating the input
    again).
    """
    scratch = Path(scratch_dir)
    scratch.mkdir(parents=True, exist_ok=True)
    paths = {name: scratch / file for name, file in HAND_OVER_FILES.items()}
    chapter.design_data.to_parquet(paths["design_data"])
    chapter.outcome_data.to_parquet(paths["outcome_data"])
    chapter.monthly_panel.to_parquet(paths["monthly_panel"], index=False,
                                     row_group_size=MONTHLY_ROW_GROUP)  # fmt: skip
    return paths
