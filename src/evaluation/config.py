"""The parameter file: a typed model, validated before anything runs.

A parameter file is YAML. Relative paths in it are resolved against the folder of the
parameter file itself (so ``params/default.yaml`` names ``../data/synthetic/...``), never
against the current directory. Unknown keys, wrong types and missing input files are refused
with one message that names the key and what was expected (exit code 2), before any notebook
starts: papermill itself would only warn about an unknown parameter.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from evaluation.errors import ParamsError
from evaluation.resources import NOTEBOOKS, SPECIFICATION_GRID
from evaluation.specgrid import read_grid

Language = Literal["en", "sv"]
#: Every estimator, in the order the results list them (the default of every estimator list).
Estimator = Literal["naive", "regression", "ra", "ipw", "aipw", "ebal", "overlap", "matching"]

#: A text the report shows as given: one text for every language, or one per language
#: (``{en: ..., sv: ...}``; the report's language must be among them).
LocalText = str | dict[Language, str]

_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Study(_Section):
    """Who and what the run is about (shown in the report)."""

    name: str = Field(description="The study's name: the report's title starts with it.")
    site: str = Field(description="Where the data come from: the report's subtitle.")
    country: str = Field(
        "SE", description="ISO 3166 code of the site's country (the report names it)."
    )
    currency: str = Field(
        "SEK", description="ISO 4217 code of the earnings in the data and of the budget."
    )
    language: Language = Field("en", description="The report's language.")
    synthetic: bool = Field(
        True, description="The inputs are the generator's synthetic data (the report says so)."
    )


class Period(_Section):
    """When the programme ran (months, ``YYYY-MM``)."""

    start: str = Field(pattern=_MONTH, description="First month of the programme (YYYY-MM).")
    end: str = Field(pattern=_MONTH, description="Last month of the programme (YYYY-MM).")

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"the period ends ({self.end}) before it starts ({self.start})")
        return self


class Programme(_Section):
    """The programme the study evaluates: every sentence of the report that describes it.

    Nothing of one programme is written into the code or the text catalogue; the default
    parameter file describes the study's own programme, a site's file the site's.
    """

    name: str = Field(description="The programme's name, as the report names it.")
    funder: LocalText = Field(
        description="Who funded it (text, or one per language: {en: European Social Fund, sv: "
        "Europeiska socialfonden}); also the report's kicker."
    )
    period: Period = Field(description="When the programme ran: start and end month.")
    aims: LocalText = Field(
        description="What the programme did and set out to do, in a sentence or two per "
        "language; the report's section on the programme quotes it."
    )
    logic: LocalText | None = Field(
        None,
        description="The programme logic (how it is meant to work), per language; or give "
        "logic_file. Without either, the report has no logic paragraph.",
    )
    logic_file: dict[Language, Path] | None = Field(
        None,
        description="Plain-text files with the programme logic, one per language (relative to "
        "the parameter file); instead of logic.",
    )
    participants_planned: int = Field(ge=1, description="Participants the programme planned.")
    budget: float = Field(
        ge=0,
        description="The programme's budget, in study.currency (set against the effect in the "
        "costs chapter).",
    )
    currency: str | None = Field(
        None,
        description="Currency of the budget (ISO 4217); must be study.currency, the currency "
        "of the earnings the budget is set against. Default: study.currency.",
    )
    esf_indicators: bool = Field(
        False,
        description="The programme is funded by the European Social Fund, whose result "
        "indicators the report then shows.",
    )

    @model_validator(mode="after")
    def _one_logic(self) -> Programme:
        if self.logic is not None and self.logic_file is not None:
            raise ValueError("give programme.logic or programme.logic_file, not both")
        return self

    def text(self, field: str, language: str) -> str | None:
        """A text field (funder, aims, logic) in ``language`` (``None`` if not given).

        ``logic`` is read from ``logic_file`` when that is given.
        """
        if field == "logic" and self.logic_file is not None:
            path = self.logic_file.get(language)  # type: ignore[call-overload]
            return None if path is None else Path(path).read_text("utf-8").strip()
        value = getattr(self, field)
        if value is None or isinstance(value, str):
            return value
        return value.get(language)

    def report_texts(self) -> dict[str, Any]:
        """The block as the report reads it (``results.json`` → ``programme``).

        Each text (funder, aims, logic) in every language it is given in; ``logic`` read from
        ``logic_file`` when that is given. Budget and planned participants are numbers of the
        results (``programme_budget``, ``planned_participants``), not repeated here.
        """
        out: dict[str, Any] = {
            "name": self.name,
            "period": self.period.model_dump(),
            "esf_indicators": self.esf_indicators,
        }
        for name in ("funder", "aims", "logic"):
            texts = {lang: self.text(name, lang) for lang in get_args(Language)}
            out[name] = {lang: text for lang, text in texts.items() if text is not None}
        return out


class Synthetic(_Section):
    """Generate the synthetic default study into the data paths when they are missing."""

    generate_if_missing: bool = True
    n_mentored: int = Field(50, ge=5, le=100_000)
    n_comparison: int = Field(3000, ge=50, le=2_000_000)
    format: Literal["csv", "parquet"] = "csv"


class TableFile(_Section):
    """One input table: its file and how to read it.

    In the parameter file either ``data.<table>: PATH`` or ``data.<table>: {path: PATH,
    sheet: NAME, sep: ';', decimal: ',', encoding: cp1252, columns: {...}, recode: {...}}``;
    the short form is the long one without options. Reading options belong to one table,
    beside its path (see :class:`evaluation.data.io.TableSource`). ``os.fspath`` of it is its
    path.
    """

    path: Path = Field(description="The file (relative paths: to the parameter file's folder).")
    sheet: str | None = Field(
        None,
        min_length=1,
        description="Excel (.xlsx) only: the sheet that holds the table. Without it the table "
        "is read from the workbook's only sheet, else from the sheet named like the table, else "
        "from the one sheet whose first row has the table's required columns; several such "
        "sheets, or none, are refused with the list of sheets. The sheet read is named in "
        "`evaluation validate`'s output.",
    )
    # --- how an evaluator's export is read (issue 15): all optional, all per table ---
    sep: Literal[",", ";", "\t", "|"] | None = Field(
        None, description="CSV only: the field separator (default: detected from the header)."
    )
    decimal: Literal[".", ","] | None = Field(
        None,
        description="CSV only: the decimal mark (default: ',' in a file that is not "
        "comma-separated, as Swedish Excel writes it; a column is read with it only when "
        "every value in it has that form).",
    )
    encoding: str | None = Field(
        None,
        min_length=1,
        description="CSV only: the text encoding, e.g. utf-8, cp1252, latin-1 (default: UTF-8, "
        "a byte-order mark accepted; else Windows-1252).",
    )
    columns: dict[str, str] | None = Field(
        None,
        description="Contract column <- the file's column, e.g. {person_id: Löpnummer, "
        "group: Grupp}; names compare case-insensitively.",
    )
    recode: dict[str, dict[str, str | None]] | None = Field(
        None,
        description="Column (contract name) -> the file's code -> the contract's value, e.g. "
        "{sex: {Kvinna: female, Man: male}}; codes compare case-insensitively; null makes a "
        "code missing; other values are left for the contract to judge.",
    )

    @model_validator(mode="before")
    @classmethod
    def _short_form(cls, value: Any) -> Any:
        if isinstance(value, str | os.PathLike):
            return {"path": value}
        if isinstance(value, dict) and isinstance(value.get("recode"), dict):
            # YAML reads the codes 1, yes and 1.0 as numbers and booleans: codes are text
            recode = {
                str(column): (
                    {_code(k): None if v is None else _code(v) for k, v in codes.items()}
                    if isinstance(codes, dict) else codes
                )
                for column, codes in value["recode"].items()
            }  # fmt: skip
            return {**value, "recode": recode}
        return value

    @model_validator(mode="after")
    def _sheet_is_for_excel(self) -> TableFile:
        if self.sheet is not None and self.path.suffix.lower() != ".xlsx":
            raise ValueError(
                f"sheet is an option of Excel workbooks (.xlsx); {self.path.name} is not one"
            )
        csv_only = [k for k in ("sep", "decimal", "encoding") if getattr(self, k) is not None]
        if csv_only and self.path.suffix.lower() != ".csv":
            raise ValueError(
                f"{', '.join(csv_only)}: options of CSV files; {self.path.name} is not one"
            )
        return self

    @model_serializer(mode="wrap")
    def _as_short_form(self, handler: Any) -> Any:
        dumped = handler(self)
        options = {k: v for k, v in dumped.items() if k != "path" and v is not None}
        return {"path": dumped["path"], **options} if options else dumped["path"]

    def __fspath__(self) -> str:
        return os.fspath(self.path)

    def source(self) -> dict[str, Any]:
        """The path and the options given, as :func:`evaluation.data.io.read_table` takes them."""
        options = ("sheet", "sep", "decimal", "encoding", "columns", "recode")
        given = {k: getattr(self, k) for k in options if getattr(self, k) is not None}
        return {"path": self.path, **given}


def _code(value: Any) -> str:
    """A code of a recode map as text (YAML's ``1``, ``1.0`` and ``true`` as ``'1'``)."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Data(_Section):
    """Input tables laid out per CONTRACT.md; optional ones may be ``null``."""

    participants: TableFile
    monthly: TableFile
    survey: TableFile | None = None
    sessions: TableFile | None = None
    mentors: TableFile | None = None

    def files(self) -> dict[str, TableFile | None]:
        """The five contract tables, name → :class:`TableFile` (``None`` where absent)."""
        return {
            "participants": self.participants,
            "monthly": self.monthly,
            "survey": self.survey,
            "sessions": self.sessions,
            "mentors": self.mentors,
        }

    def tables(self) -> dict[str, Path | None]:
        """The five contract tables, name → path (``None`` where absent)."""
        return {name: None if f is None else f.path for name, f in self.files().items()}

    def sources(self) -> dict[str, dict[str, Any] | None]:
        """Name → path and reading options (``None`` where absent), for ``load_study``."""
        return {name: None if f is None else f.source() for name, f in self.files().items()}


class Outcomes(_Section):
    """Horizons (months after start) and the pre-period used for covariates."""

    horizons: list[int] = Field(default_factory=lambda: [6, 12, 24])
    pre_months: int = Field(12, ge=1, le=60)
    min_pre_months: int = Field(12, ge=0, le=60)

    @field_validator("horizons")
    @classmethod
    def _horizons_positive_sorted(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("at least one horizon is needed")
        if any(h < 1 or h > 120 for h in v):
            raise ValueError("horizons are months after start, each between 1 and 120")
        if len(set(v)) != len(v):
            raise ValueError("horizons must not repeat")
        return sorted(v)


class Design(_Section):
    """The design stage: propensity-score covariates, exact matching, trimming."""

    covariates: list[str] = Field(
        default_factory=lambda: [
            "age",
            "sex",
            "education",
            "swedish_level",
            "years_in_sweden",
            "origin_region",
            "pre_months_employed_12",
            "pre_earnings_12",
            "pre_employed_m1",
        ]
    )
    exact: str | None = "start_quarter"
    trimming: Literal["none", "common_support", "crump"] = "common_support"
    balance_threshold: float = Field(0.1, gt=0, le=1)
    subsample_comparison: int = Field(
        5_000,
        ge=100,
        description="Analyses repeated many times or run on the whole monthly panel (the "
        "permutation test, the weighted event study, the staggered DiD and TWFE, the placebo "
        "tests, the specification curve) use every mentored person and a simple random, "
        "outcome-blind sample of at most this many comparison persons, drawn once in the "
        "design stage; the main estimates, the matching and the matched event study use "
        "everyone. A pool no larger than this is used whole. With at most a few hundred "
        "mentored, 5 000 comparison persons (ten or more per mentored person) leave the "
        "comparison side a small part of an estimate's variance.",
    )
    min_mentored: int = Field(
        10,
        ge=1,
        description="Fewest mentored persons who can be analysed (monthly rows and "
        "outcomes.min_pre_months months of coverage before their start) for the study to run; "
        "fewer are refused when the inputs are validated, before any notebook starts (exit 3). "
        "Ten is a floor, not a guarantee: an effect on fewer than twice disclosure.min_cell (5) "
        "mentored persons cannot be published split by sex, as the ESF indicator always is, "
        "and with the default covariates the propensity model separated perfectly in 8 of 10 "
        "simulated studies with 5 mentored, 1 of 10 with 8 or 10, none of 10 with 15 or more. "
        "A design that still cannot be fitted is refused by the design stage, with its reason.",
    )


class Headline(_Section):
    """The one effect the report leads with."""

    estimator: Estimator = "matching"
    outcome: str = "employed_m12"
    subgroup: str = "all"


class Matching(_Section):
    """Nearest-neighbour propensity-score matching options."""

    neighbours: int = Field(4, ge=1, le=20)
    replace: bool = True
    caliper: float | None = Field(0.2, gt=0)
    bias_correction: bool = True
    se: Literal["ai2006", "ai2016"] = Field(
        "ai2006",
        description="Standard error of the matching estimate. ai2006: Abadie and Imbens (2006), "
        "which treats the propensity score as known (as R's Matching does); ai2016: Abadie and "
        "Imbens (2016), adjusted for the score being estimated (as Stata's teffects psmatch "
        "reports it). The default is ai2006 because at the default study's size (50 mentored) "
        "with some twenty propensity-model terms the 2016 adjustment is estimated so noisily "
        "that its intervals undercover badly (bench/inference_study.py); ai2016 suits larger "
        "studies.",
    )


class Bootstrap(_Section):
    """Weighted bootstrap of the weighting estimators (IPW, AIPW), propensity model refitted."""

    draws: int = Field(
        999, ge=0, le=100_000,
        description="Draws of the weighted bootstrap of IPW and AIPW (0: sandwich SEs only). "
        "Each draw reweights persons, refits the propensity logit and the outcome model and "
        "recomputes the estimate, so the estimation of the weights is part of every draw. "
        "The draws of all outcomes share the person weights, so they also give the joint "
        "distribution that the Romano-Wolf adjustment of the weighting estimators uses.",
    )  # fmt: skip
    use_when_ratio_above: float = Field(
        1.05, ge=1.0, le=3.0,
        description="Show the bootstrap SE instead of the sandwich SE when bootstrap / sandwich "
        "exceeds this. 1.05: a sandwich SE 5 % too small turns a nominal 95 % interval into "
        "93.8 %, the edge of what a simulation at the study's size can tell from 95 %; with "
        "999 draws the bootstrap SE itself varies by about 4 % (IQR-based), so a larger gap "
        "is rarely noise. A bootstrap SE below the sandwich keeps the sandwich.",
    )  # fmt: skip
    weights: Literal["exponential", "poisson"] = Field(
        "exponential",
        description="Person weights: exponential (Bayesian bootstrap, Rubin 1981: every person "
        "keeps a positive weight, so no draw loses a category or the only mentored person of "
        "one) or poisson (the ordinary bootstrap of persons; draws whose propensity refit has "
        "no finite maximum are dropped, which in a study of some 50 mentored is many).",
    )


class Estimation(_Section):
    """Which estimators to run and how to do inference."""

    estimators: list[Estimator] = Field(default_factory=lambda: list(get_args(Estimator)))
    headline: Headline = Field(default_factory=Headline)
    matching: Matching = Field(default_factory=Matching)
    level: float = Field(0.95, gt=0.5, lt=1)
    permutation_draws: int = Field(
        999,
        ge=0,
        le=100_000,
        description="Draws of the headline's randomisation test (assignments redrawn from the "
        "estimated propensity score, the whole headline estimator rerun on each); 0 skips it.",
    )
    bootstrap: Bootstrap = Field(default_factory=Bootstrap)
    subgroups: list[str] = Field(
        default_factory=list,
        description="Pre-registered subgroup variables (categorical design covariates, e.g. "
        "sex, education): the headline estimator within each level, Cochran's Q test of equal "
        "effects per variable, Holm-adjusted over the variables. Empty: none.",
    )

    @field_validator("subgroups")
    @classmethod
    def _distinct_subgroups(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"estimation.subgroups names a variable twice: {v}")
        return v


class Disclosure(_Section):
    """Statistical disclosure control of every table and figure."""

    min_cell: int = Field(5, ge=1, le=100)


#: Keys of the report section that moved to the programme block (old parameter files).
MOVED_TO_PROGRAMME = {
    "budget_sek": "programme.budget",
    "planned_participants": "programme.participants_planned",
}


class Report(_Section):
    """What is rendered for funders, and how it names the values of the data."""

    formats: list[Literal["html", "pdf", "docx"]] = Field(
        default_factory=lambda: ["html", "pdf", "docx"],
        description="What the report is rendered as: html (always), pdf (A4, WeasyPrint), docx "
        "(Word, via pandoc: the same page, for funders who work in Word)",
    )
    docx_reference: str | None = Field(
        None,
        description="A Word file whose styles the docx report takes (pandoc's reference "
        "document: a funder's template); absolute or relative to the parameter file's folder. "
        "None: pandoc's own styles",
    )
    labels: dict[str, dict[str, LocalText]] = Field(
        default_factory=dict,
        description="Display labels of category values, by category (column): for example "
        "origin_region: {Irak: {en: Iraq, sv: Irak}}. How the report and its figures name a "
        "value of the data; a value not listed takes the text catalogue's label, or is shown "
        "as the data hold it. (How values are read and recoded is data's business: data.)",
    )

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            moved = [k for k in MOVED_TO_PROGRAMME if k in data]
            if moved:
                raise ValueError(
                    "; ".join(f"report.{k} has moved to {MOVED_TO_PROGRAMME[k]}" for k in moved)
                    + ". The programme block describes the programme the report is about (name, "
                    "funder, period, aims, budget, planned participants): see params/default.yaml"
                )
        return data


class Timing(_Section):
    """When the effect comes: event study, staggered DiD, time to first job (notebook 04)."""

    leads: int = Field(
        12, ge=2, le=60, description="Event study: months before start (-1 is the reference)."
    )
    lags: int = Field(24, ge=1, le=120, description="Event study: months after start.")
    cohort: Literal["quarter", "month"] = Field(
        "quarter",
        description="Staggered DiD cohorts and periods: calendar quarters (outcome: share of the "
        "quarter's months employed; earnings summed over the quarter) or months.",
    )
    control: Literal["never_same_cohort", "never", "notyet"] = Field(
        "never_same_cohort",
        description="Comparison for ATT(g, t): never-mentored persons eligible in the cohort's "
        "period (aligned on eligibility), all never-mentored, or never and not-yet mentored.",
    )
    dr_propensity: Literal["design_score", "covariates"] = Field(
        "design_score",
        description="Propensity covariates of the doubly robust DiD: the design stage's "
        "propensity logit (one index, well posed in small cohorts) or all design covariates.",
    )
    pre_periods: int = Field(
        4, ge=1, le=20, description="Staggered DiD: cohort periods before start (placebo cells)."
    )
    post_periods: int = Field(
        8, ge=1, le=40, description="Staggered DiD: cohort periods from the start period on."
    )
    bootstrap_draws: int = Field(
        999,
        ge=99,
        le=100_000,
        description="Draws of the multiplier bootstrap (staggered DiD) and of the sup-t band.",
    )


class Bottomup(_Section):
    """The participants' own view: survey factors, measurement, moderation, dose (notebook 05)."""

    instrument: str = Field(
        "survey_v1",
        description="Instrument file in data/instruments/ (<name>.csv): item wording for the report.",
    )
    factors: dict[str, list[str]] = Field(
        default_factory=lambda: {
            "goal": ["goal_1", "goal_2", "goal_3"],
            "barrier": ["barrier_1", "barrier_2", "barrier_3", "barrier_4", "barrier_5"],
            "network": ["network_1", "network_2", "network_3"],
            "efficacy": ["efficacy_1", "efficacy_2", "efficacy_3"],
            "mentor": ["mentor_1", "mentor_2", "mentor_3", "mentor_4"],
        },
        description="Factor -> its survey items (columns of the survey table).",
    )
    reverse: list[str] = Field(
        default_factory=lambda: ["barrier_2", "barrier_4", "network_3", "mentor_4"],
        description="Reverse-coded items (answer turned to 6 - answer before scoring).",
    )
    follow_up_factors: list[str] = Field(
        default_factory=lambda: ["mentor"],
        description="Factors asked at follow-up only (the mentor relationship): not moderators.",
    )
    min_answered: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Missing-item rule: a score is the mean of the answered items if at least "
        "this share of the factor's items is answered, else missing.",
    )
    agree_min: int = Field(4, ge=2, le=5, description="Lowest answer (1-5) counted as agreeing.")
    outcome: str = Field(
        "months_employed_12",
        pattern=r"^(employed_m|months_employed_|earnings_)\d+$",
        description="Outcome of the moderation and dose analyses (one of the study's outcomes).",
    )
    correction: Literal["holm", "bonferroni", "fdr_bh", "none"] = Field(
        "holm", description="Multiplicity correction across factors and across mentor features."
    )
    rotation: Literal["promax", "varimax", "oblimin", "quartimax"] = Field(
        "promax", description="Rotation of the exploratory factor analysis."
    )
    dose_edges: list[float] = Field(
        default_factory=lambda: [0, 8, 12, 16, 20, 1000],
        description="Bin edges of the number of meetings for the dose-response curve.",
    )
    dose_knot: float = Field(
        12, gt=0, description="Meetings at which the dose slope may change (linear spline)."
    )
    suggestive_p: float = Field(
        0.2,
        gt=0,
        lt=1,
        description="Evidence rule: 'suggestive' if the uncorrected p-value is below this.",
    )

    @field_validator("dose_edges")
    @classmethod
    def _edges_increase(cls, v: list[float]) -> list[float]:
        if len(v) < 3 or any(b <= a for a, b in zip(v, v[1:], strict=False)):
            raise ValueError("at least three strictly increasing edges are needed")
        return v

    def items(self) -> list[str]:
        """Every survey item of the factors: the survey's item columns (see :func:`survey_items`)."""
        return survey_items(self.factors)

    @model_validator(mode="after")
    def _names_are_consistent(self) -> Bottomup:
        items = {i for its in self.factors.values() for i in its}
        if unknown := sorted(set(self.reverse) - items):
            raise ValueError(f"bottomup.reverse names items of no factor: {unknown}")
        if unknown := sorted(set(self.follow_up_factors) - set(self.factors)):
            raise ValueError(f"bottomup.follow_up_factors names unknown factors: {unknown}")
        if any(len(its) < 2 for its in self.factors.values()):
            raise ValueError("every factor in bottomup.factors needs at least two items")
        return self


class Robustness(_Section):
    """Power, placebo tests, sensitivity to hidden confounding, specification curve (06)."""

    alpha: float = Field(
        0.05, gt=0, lt=0.5, description="Two-sided test level of the minimum detectable effect."
    )
    power: float = Field(
        0.80, gt=0.5, lt=1, description="Target power of the minimum detectable effect."
    )
    pre_outcome_months: int = Field(
        6,
        ge=1,
        le=60,
        description="Placebo outcomes: employment in month start-m and earnings over months "
        "start-m .. start-1 (m months before start).",
    )
    fake_start_shift: int = Field(
        12,
        ge=1,
        le=60,
        description="Placebo timing: every start moved back this many months, the whole design "
        "and every estimator rerun.",
    )
    fake_start_horizons: list[int] = Field(
        default_factory=lambda: [6, 12],
        description="Horizons after the fake start (each at most fake_start_shift, so before "
        "the real start).",
    )
    rosenbaum_gamma_max: float = Field(
        3.0, gt=1, le=100, description="Largest Gamma shown in the Rosenbaum-bounds figure."
    )
    ovb_benchmarks: list[str] = Field(
        default_factory=lambda: ["pre_months_employed_12"],
        description="Omitted-confounder sensitivity of the regression estimate (Cinelli and "
        "Hazlett 2020): numeric covariates of design.covariates a hidden confounder is "
        "compared with (bounds for one as strong as each, and multiples of it).",
    )
    ovb_multiples: list[float] = Field(
        default_factory=lambda: [1.0, 2.0, 3.0],
        description="How many times as strong as each benchmark covariate the hidden "
        "confounder is taken to be (with the treatment and with the outcome alike).",
    )
    specifications: str = Field(
        str(SPECIFICATION_GRID),
        description="The specification-curve grid file (relative to the parameter file's "
        "folder, or absolute); the built-in grid (evaluation/robustness/specifications.yaml) "
        "when not given.",
    )
    workers: int = Field(2, ge=1, le=64, description="Processes for the specification curve.")
    compare_sequential: bool = Field(
        False,
        description="Also run the grid one by one and report both wall times (doubles the "
        "curve's cost; bench/spec_curve.py measures the same outside a run).",
    )

    @model_validator(mode="after")
    def _placebo_before_real_start(self) -> Robustness:
        h = self.fake_start_horizons
        if not h or min(h) < 1 or max(h) > self.fake_start_shift or len(set(h)) != len(h):
            raise ValueError(
                "robustness.fake_start_horizons must be distinct, between 1 and "
                f"fake_start_shift ({self.fake_start_shift}) so that every placebo outcome lies "
                "before the real start"
            )
        return self


class Costs(_Section):
    """Cost per participant and per additional person in work; break-even (notebook 06)."""

    horizon: int = Field(
        12,
        ge=1,
        le=120,
        description="Months after start of the employment outcome that costs are set against "
        "(one of outcomes.horizons; the headline estimator's effect is used).",
    )
    monthly_earnings_sek: float = Field(
        20_000, gt=0, description="Assumed gross earnings per month in work (SEK)."
    )
    tax_share: float = Field(
        0.30,
        ge=0,
        le=1,
        description="Assumed share of gross earnings returned to the public purse (taxes and "
        "contributions).",
    )
    benefit_saved_sek_per_month: float = Field(
        6_000, ge=0, description="Assumed benefits no longer paid per month in work (SEK)."
    )
    duration_months: int = Field(
        12,
        ge=1,
        le=240,
        description="Assumed months over which the effect on the share in work lasts.",
    )


class Params(_Section):
    """The whole parameter file of a study run (``kind: study``, the default)."""

    kind: Literal["study"] = "study"
    seed: int = Field(20170601, ge=0, le=2**32 - 1)
    study: Study
    programme: Programme | None = Field(
        None,
        description="The programme evaluated (see Programme); every sentence of the report "
        "that describes it comes from here. Required for a study run (the report describes "
        "the programme); reading and validating the data work without it.",
    )
    synthetic: Synthetic | None = None
    data: Data
    outcomes: Outcomes = Field(default_factory=Outcomes)
    design: Design = Field(default_factory=Design)
    estimation: Estimation = Field(default_factory=Estimation)
    timing: Timing = Field(default_factory=Timing)
    bottomup: Bottomup = Field(default_factory=Bottomup)
    robustness: Robustness = Field(default_factory=Robustness)
    costs: Costs = Field(default_factory=Costs)
    disclosure: Disclosure = Field(default_factory=Disclosure)
    report: Report = Field(default_factory=Report)

    @model_validator(mode="after")
    def _programme_fits_the_study(self) -> Params:
        prog, lang = self.programme, self.study.language
        if prog is None:
            return self
        if prog.currency is not None and prog.currency != self.study.currency:
            raise ValueError(
                f"programme.currency ({prog.currency}) must be study.currency "
                f"({self.study.currency}): the budget is set against earnings in that currency"
            )
        for name in ("funder", "aims", "logic"):
            value = getattr(prog, name)
            if isinstance(value, dict) and lang not in value:
                raise ValueError(
                    f"programme.{name} has no text in '{lang}' (study.language); give one "
                    f"text for every language or one per language ({', '.join(value)} given)"
                )
        if prog.logic_file is not None and lang not in prog.logic_file:
            raise ValueError(f"programme.logic_file has no file for '{lang}' (study.language)")
        return self

    @model_validator(mode="after")
    def _headline_is_estimated(self) -> Params:
        est = self.estimation
        if est.headline.estimator not in est.estimators:
            raise ValueError(
                f"estimation.headline.estimator '{est.headline.estimator}' is not among "
                f"estimation.estimators {est.estimators}"
            )
        if est.headline.estimator == "overlap":
            raise ValueError(
                "estimation.headline.estimator 'overlap' estimates the effect in the overlap "
                "population, not on the mentored, which the headline and the report's summary "
                "are about; choose an estimator of the ATT (e.g. matching, aipw or ebal) and "
                "keep overlap among estimation.estimators"
            )
        outcome = est.headline.outcome
        known = outcome_names(self.outcomes.horizons)
        if outcome not in known:
            raise ValueError(
                f"estimation.headline.outcome '{outcome}' is not an outcome of this study; "
                f"with horizons {self.outcomes.horizons} the outcomes are {', '.join(known)}"
            )
        return self

    @model_validator(mode="after")
    def _subgroups_are_covariates(self) -> Params:
        extra = [v for v in self.estimation.subgroups if v not in self.design.covariates]
        if extra:
            raise ValueError(
                f"estimation.subgroups {extra} are not among design.covariates "
                f"{self.design.covariates}: a subgroup is a level of a characteristic the design "
                "balances (add it to design.covariates, or drop it from the subgroups)"
            )
        return self

    @model_validator(mode="after")
    def _benchmarks_are_covariates(self) -> Params:
        extra = [b for b in self.robustness.ovb_benchmarks if b not in self.design.covariates]
        if extra:
            raise ValueError(
                f"robustness.ovb_benchmarks {extra} are not among design.covariates "
                f"{self.design.covariates}: a hidden confounder is compared with a covariate the "
                "regression adjusts for (a numeric one)"
            )
        return self

    def notebook_parameters(self) -> dict[str, Any]:
        """The top-level sections as plain JSON values, as injected into notebooks.

        Notebooks written before the programme block read the budget and the planned
        participants from ``report`` (``report["budget_sek"]``): they still find them there.
        """
        doc = self.model_dump(mode="json")
        if self.programme is not None:
            doc["report"] = {
                **doc["report"],
                "budget_sek": self.programme.budget,
                "planned_participants": self.programme.participants_planned,
            }
        return doc

    def require_programme(self, source: Path | str) -> Programme:
        """The programme block, or a ParamsError saying how to add it (a study run needs it)."""
        if self.programme is None:
            raise ParamsError(
                f"{source}: no programme block. A study run's report describes the programme "
                "it evaluates (name, funder, period, aims, planned participants, budget), and "
                "none of it is assumed: add a programme: block (see params/default.yaml; "
                "`evaluation init` writes one to fill in)."
            )
        return self.programme


class Benchmark(_Section):
    """The LaLonde / Dehejia-Wahba benchmark: the study's estimators on the NSW data."""

    comparisons: list[Literal["experimental", "psid", "cps"]] = Field(
        default_factory=lambda: ["experimental", "psid", "cps"]
    )
    estimators: list[Estimator] = Field(default_factory=lambda: list(get_args(Estimator)))
    trimming: Literal["none", "common_support", "crump"] = "common_support"
    matching: Matching = Field(
        default_factory=lambda: Matching(neighbours=1, caliper=None, bias_correction=False)
    )
    level: float = Field(0.95, gt=0.5, lt=1)


class LalondeParams(_Section):
    """The parameter file of the LaLonde benchmark run (``kind: lalonde``)."""

    kind: Literal["lalonde"]
    seed: int = Field(20170601, ge=0, le=2**32 - 1)
    study: Study = Field(
        default_factory=lambda: Study(
            name="LaLonde / Dehejia-Wahba benchmark",
            site="NSW (United States, 1976-1978)",
            country="US",
            currency="USD",
            synthetic=False,
        )
    )
    benchmark: Benchmark = Field(default_factory=Benchmark)
    headline: Headline = Field(
        default_factory=lambda: Headline(estimator="naive", outcome="re78", subgroup="experimental")
    )
    disclosure: Disclosure = Field(default_factory=Disclosure)
    report: Report = Field(default_factory=Report)

    def notebook_parameters(self) -> dict[str, Any]:
        """The top-level sections as plain JSON values, as injected into notebooks."""
        return self.model_dump(mode="json")


AnyParams = Params | LalondeParams


def outcome_names(horizons: list[int]) -> list[str]:
    """Names of the outcomes derived from ``monthly`` for these horizons (CONTRACT.md)."""
    names = [f"employed_m{k}" for k in horizons]
    names += [f"months_employed_{k}" for k in horizons]
    names += [f"earnings_{k}" for k in horizons]
    return names


def survey_items(factors: Mapping[str, Sequence[str]]) -> list[str]:
    """The survey's item columns: every item of ``bottomup.factors``, in factor order, once.

    The survey table is validated with these as its items (answers 1..5); any other column of
    it is kept and not used.
    """
    return list(dict.fromkeys(item for items in factors.values() for item in items))


def validation_lines(
    err: ValidationError, *, unknown: str, missing: str, limit: int | None = None
) -> list[str]:
    """One ``  - dotted.key: what is wrong`` line per problem of a pydantic validation.

    ``unknown`` and ``missing`` word the two commonest problems for the document at hand (a
    parameter file, a site bundle); other problems show pydantic's message and the value.
    """
    lines = []
    for e in err.errors()[:limit]:
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = unknown
        elif e["type"] == "missing":
            msg = missing
        else:
            got = e.get("input")
            shown = f" (got {got!r})" if not isinstance(got, dict | list) else ""
            msg = f"{e['msg']}{shown}"
        lines.append(f"  - {key}: {msg}")
    return lines


def _format_validation_error(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: the parameter file is not valid ({err.error_count()} problem(s)):"]
    lines += validation_lines(
        err,
        unknown="unknown key (check the spelling; see params/default.yaml for all keys)",
        missing="required key is missing",
    )
    return "\n".join(lines)


def _resolve_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    data = raw.get("data")
    if isinstance(data, dict):
        resolved = {}
        for key, value in data.items():
            if isinstance(value, str) and value.strip():
                resolved[key] = _resolved(value, base)
            elif isinstance(value, dict) and isinstance(value.get("path"), str):
                resolved[key] = {**value, "path": _resolved(value["path"], base)}
            else:
                resolved[key] = value
        raw = {**raw, "data": resolved}
    robustness = raw.get("robustness")
    if isinstance(robustness, dict) and isinstance(robustness.get("specifications"), str):
        grid = _grid_path(robustness["specifications"], base)
        raw = {**raw, "robustness": {**robustness, "specifications": grid}}
    report = raw.get("report")
    if isinstance(report, dict) and isinstance(report.get("docx_reference"), str):
        raw = {**raw, "report": {**report,
                                 "docx_reference": _resolved(report["docx_reference"], base)}}  # fmt: skip
    return raw


def _resolve_programme_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """``programme.logic_file.<language>`` relative to the parameter file's folder."""
    programme = raw.get("programme")
    files = programme.get("logic_file") if isinstance(programme, dict) else None
    if not isinstance(files, dict):
        return raw
    resolved = {
        lang: _resolved(value, base) if isinstance(value, str) and value.strip() else value
        for lang, value in files.items()
    }
    return {**raw, "programme": {**programme, "logic_file": resolved}}


#: What parameter files written before the grid moved into the package name it (relative to
#: the notebooks/ folder, where it was then resolved).
_FORMER_DEFAULT_GRID = "../params/specifications.yaml"


def _grid_path(value: str, base: Path) -> str:
    """The specification grid's file, resolved like the data files.

    Relative to the parameter file's folder; else (files of earlier versions) to the notebooks'
    folder; the former default names the built-in grid.
    """
    own = Path(_resolved(value, base))
    if own.is_file() or Path(value).expanduser().is_absolute():
        return str(own)
    if (NOTEBOOKS / value).is_file():
        return str((NOTEBOOKS / value).resolve())
    if value.strip() == _FORMER_DEFAULT_GRID:
        return str(SPECIFICATION_GRID)
    return str(own)


def _resolved(value: str, base: Path) -> str:
    p = Path(value).expanduser()
    return str(p if p.is_absolute() else (base / p).resolve())


def read_params_text(path: Path) -> str:
    """The parameter file's text, or a ParamsError if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(
            f"{path}: parameter file not found. Give an existing YAML file, e.g. "
            "--params params/default.yaml"
        )
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(
            f"{path}: cannot read the parameter file as UTF-8 text ({exc})."
        ) from None


def parse_params(text: str, *, source: Path, base: Path | None = None) -> AnyParams:
    """Validate YAML text into :class:`Params`; relative paths resolve against ``base``."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ParamsError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ParamsError(
            f"{source}: expected a mapping of keys (seed, data, ...) at the top level."
        )
    raw = _resolve_paths(raw, base if base is not None else Path(source).resolve().parent)
    raw = _resolve_programme_paths(raw, base if base is not None else Path(source).resolve().parent)
    model = {"study": Params, "lalonde": LalondeParams, "pooling": PoolingParams}.get(
        raw.get("kind", "study")
    )
    if model is None:
        raise ParamsError(
            f"{source}: kind: {raw.get('kind')!r} is not known; use 'study' (the default), "
            "'lalonde' (the benchmark) or 'pooling' (partner sites' bundles)."
        )
    if model is PoolingParams:
        raw = _resolve_site_paths(raw, base if base is not None else Path(source).resolve().parent)
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_validation_error(Path(source), err)) from None


def check_input_files(params: AnyParams, *, source: Path) -> None:
    """Every input file named in ``data`` must exist (unless the generator will make it)."""
    check_docx_reference(params, source=source)
    if not isinstance(params, Params):
        return
    will_generate = params.synthetic is not None and params.synthetic.generate_if_missing
    missing = [
        (key, path)
        for key, path in params.data.tables().items()
        if path is not None and not Path(path).is_file()
    ]
    if params.programme is not None and params.programme.logic_file is not None:
        absent = {k: p for k, p in params.programme.logic_file.items() if not Path(p).is_file()}
        if absent:
            raise ParamsError(
                f"{source}: programme.logic_file: file(s) not found: "
                + ", ".join(f"{k}: {p}" for k, p in absent.items())
                + " (relative paths are relative to the parameter file's folder)"
            )
    if missing and not will_generate:
        lines = [f"{source}: input file(s) not found:"]
        lines += [f"  - data.{key}: {path}" for key, path in missing]
        lines.append(
            "Fix the path (relative paths are relative to the parameter file's folder), "
            "or set the optional tables (survey, sessions, mentors) to null."
        )
        raise ParamsError("\n".join(lines))
    check_specification_grid(params, source=source)


def check_docx_reference(params: Any, *, source: Path) -> None:
    """A named Word template must be a Word file (checked before a run, not after it)."""
    ref = params.report.docx_reference
    if ref is None:
        return
    path = Path(ref)
    if not path.is_file() or path.suffix.lower() != ".docx":
        raise ParamsError(
            f"{source}: report.docx_reference ({path}) is not a .docx file. Point it at the "
            "funder's Word template (absolute, or relative to the parameter file's folder), or "
            "leave it out for pandoc's own styles."
        )


def check_specification_grid(params: Params, *, source: Path) -> None:
    """The specification grid's horizons must be outcomes of the study (checked before a run).

    Otherwise notebook 06 would stop after five notebooks had run, for a mismatch known from
    the parameters alone.
    """
    path = Path(params.robustness.specifications)
    grid = read_grid(path)
    horizons = sorted({s.horizon for s in grid.specifications})
    extra = [h for h in horizons if h not in params.outcomes.horizons]
    if extra:
        raise ParamsError(
            f"{source}: robustness.specifications ({path}) has horizons {extra}, which are not "
            f"among outcomes.horizons {params.outcomes.horizons}. Copy the grid file, set its "
            "horizons to some of the study's, and point robustness.specifications at it "
            "(an absolute path, or relative to the parameter file's folder)."
        )


def load_params(path: Path | str, *, check_files: bool = True) -> AnyParams:
    """Read, validate and (optionally) check the input files of a parameter file."""
    path = Path(path)
    params = parse_params(read_params_text(path), source=path)
    if check_files:
        check_input_files(params, source=path)
    return params


def params_hash(text: str) -> str:
    """SHA-256 of the parameter file's text (recorded in the provenance)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- pooling of partner sites (kind: pooling) ----------------------------------------------


class PoolingSite(_Section):
    """One partner site of a pooling run: its exported bundle."""

    key: str = Field(
        pattern=r"^[A-Za-z0-9_-]+$", description="Short name of the site (letters, digits, _ -)."
    )
    bundle: Path = Field(
        description="The site's bundle written by `evaluation export RUN_FOLDER` (relative to "
        "the parameter file)."
    )
    truth: Path | None = Field(
        None,
        description="Synthetic demonstration only: the truth.json of the site's generated data, "
        "to check the pooled estimate against the size-weighted true effect.",
    )


class Pooling(_Section):
    """What is pooled and how (inverse-variance meta-analysis)."""

    estimator: Estimator = Field("matching", description="The site estimate that is pooled.")
    outcomes: list[str] = Field(
        default_factory=lambda: ["employed_m12", "months_employed_12", "earnings_12"],
        description="Outcomes pooled (money outcomes are converted to currency.target).",
    )
    tau2_method: Literal["paule_mandel", "dersimonian_laird", "reml"] = Field(
        "paule_mandel", description="Between-site variance of the random-effects model."
    )
    level: float = Field(0.95, gt=0.5, lt=1)

    @field_validator("outcomes")
    @classmethod
    def _contract_outcomes(cls, v: list[str]) -> list[str]:

        bad = [o for o in v if not re.fullmatch(r"(employed_m|months_employed_|earnings_)\d+", o)]
        if not v or bad or len(set(v)) != len(v):
            raise ValueError(
                f"pooling.outcomes must be distinct contract outcomes (employed_mK, "
                f"months_employed_K, earnings_K); not {bad or v}"
            )
        return v

    @field_validator("estimator")
    @classmethod
    def _an_att_estimator(cls, v: str) -> str:
        if v == "overlap":
            raise ValueError(
                "pooling.estimator 'overlap' estimates the overlap population's effect, which "
                "differs from site to site; sites export and pool effects on the mentored "
                "(ATT): choose e.g. matching, aipw or ebal"
            )
        return v


class Currency(_Section):
    """Money outcomes in one currency and price year."""

    target: str = Field("EUR", pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")
    price_year: int = Field(ge=1900, le=2100, description="Price year of the pooled amounts.")
    exchange_rates: dict[str, float] = Field(
        description="Units of the target currency per unit of each site currency (annual "
        "average of the price year)."
    )
    price_index: dict[str, dict[int, float]] = Field(
        default_factory=dict,
        description="Consumer price index of each site currency by year: a site's amounts are "
        "moved from its price year to currency.price_year in its own currency, then converted.",
    )

    @model_validator(mode="after")
    def _rates_positive(self) -> Currency:
        bad = {c: r for c, r in self.exchange_rates.items() if not r > 0}
        if bad:
            raise ValueError(f"currency.exchange_rates must be positive: {bad}")
        if self.exchange_rates.get(self.target, 1.0) != 1.0:
            raise ValueError(f"currency.exchange_rates.{self.target} (the target) must be 1")
        bad_cpi = {c: y for c, ys in self.price_index.items() for y, v in ys.items() if not v > 0}
        if bad_cpi:
            raise ValueError(f"currency.price_index values must be positive: {bad_cpi}")
        return self


class PoolingParams(_Section):
    """The parameter file of a pooling run across partner sites (``kind: pooling``)."""

    kind: Literal["pooling"]
    seed: int = Field(20170601, ge=0, le=2**32 - 1)
    study: Study = Field(
        default_factory=lambda: Study(
            name="Mentoring across partner sites",
            site="Partner sites",
            country="EU",
            currency="EUR",
        )
    )
    sites: list[PoolingSite] = Field(description="The partner sites; at least two.")
    pooling: Pooling = Field(default_factory=Pooling)
    currency: Currency
    headline: Headline = Field(
        default_factory=lambda: Headline(
            estimator="matching", outcome="employed_m12", subgroup="pooled"
        )
    )
    disclosure: Disclosure = Field(default_factory=Disclosure)
    report: Report = Field(default_factory=Report)

    @model_validator(mode="after")
    def _consistent(self) -> PoolingParams:
        keys = [s.key for s in self.sites]
        if len(keys) < 2:
            raise ValueError("sites: a pooling run needs at least two sites")
        if len(set(keys)) != len(keys):
            raise ValueError(f"sites: each key once, not {keys}")
        if self.study.currency != self.currency.target:
            raise ValueError(
                f"study.currency ({self.study.currency}) must equal currency.target "
                f"({self.currency.target}): the report shows pooled amounts in it"
            )
        h = self.headline
        if h.estimator != self.pooling.estimator or h.outcome not in self.pooling.outcomes:
            raise ValueError(
                f"headline ({h.estimator} on {h.outcome}) must name pooling.estimator "
                f"({self.pooling.estimator}) and one of pooling.outcomes {self.pooling.outcomes}"
            )
        if h.subgroup not in ("pooled", "pooled_fixed", "pooled_random"):
            raise ValueError("headline.subgroup must be pooled, pooled_fixed or pooled_random")
        return self

    def input_files(self) -> dict[str, Path | None]:
        """Every file the run reads: the bundles (and truth files of a synthetic demo)."""
        out: dict[str, Path | None] = {}
        for site in self.sites:
            out[f"bundle_{site.key}"] = site.bundle
            if site.truth is not None:
                out[f"truth_{site.key}"] = site.truth
        return out

    def notebook_parameters(self) -> dict[str, Any]:
        """The top-level sections as plain JSON values, as injected into notebooks."""
        return self.model_dump(mode="json")


def _resolve_site_paths(raw: dict[str, Any], base: Path) -> dict[str, Any]:
    """``sites[i].bundle`` and ``.truth`` relative to the parameter file's folder."""
    sites = raw.get("sites")
    if not isinstance(sites, list):
        return raw
    resolved: list[Any] = []
    for site in sites:
        if isinstance(site, dict):
            site = dict(site)
            for field in ("bundle", "truth"):
                value = site.get(field)
                if isinstance(value, str) and value.strip():
                    p = Path(value).expanduser()
                    site[field] = str(p if p.is_absolute() else (base / p).resolve())
        resolved.append(site)
    return {**raw, "sites": resolved}
