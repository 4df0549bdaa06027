"""Design before outcomes, provably: freeze the design stage and check runs against it.

Rubin (2008, "For objective causal inference, design trumps analysis") asks that the
comparison be designed before any outcome is seen. ``evaluation design`` runs the data and
design stages on what the design reads only, the participants table and the **pre-period
rows** of the monthly table (:func:`pre_period_rows`), and writes a *design freeze*: one
JSON file whose SHA-256 fingerprint covers the design parameters, the SHA-256 of the design
inputs, the propensity model, the trimming and matching decisions (aggregates, plus a hash
of the person-level design, which stays in the private work folder), balance, the
specification grid and the headline chosen, and the code version; with it a one-page
summary (en, sv) to attach to a pre-analysis plan.

``evaluation run --design FROZEN`` then **recomputes the design and proves it identical**:
before any notebook runs it refuses (:class:`~evaluation.errors.FreezeError`, exit 7) when a
design parameter or the design inputs (restricted as above) differ from the frozen ones;
after the notebooks it compares the person-level design the run's notebooks used (the
hand-over of notebook 02 and the covariates it read) with the frozen hash, and fails the run
(exit 7) if they differ. The headline and the specification grid are pre-registered choices,
not design inputs: a run may change them, and its provenance and report say so.

What a freeze proves is *order*: this design was fixed, from these inputs, before the run
that used it. It does not prove that the data supplier's pre-period extract held no
outcome information, nor that no other freeze was made and discarded.

Limit of the pre-period restriction: a comparison person without an eligibility month gets a
pseudo start drawn among the months at which their records cover the whole window up to the
longest horizon (:mod:`evaluation.design.pseudo_starts`, ``data/README.md``). That rule reads
the *coverage* of their records after the start, so all monthly rows of such persons are
design inputs; a pre-period extract must hold them as the full extract will (or give those
persons their eligibility month).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from evaluation import __version__
from evaluation.chapters.design import DesignChapter, design_chapter
from evaluation.config import (
    Params,
    check_input_files,
    outcome_names,
    parse_params,
    read_params_text,
)
from evaluation.data.contract import load_study
from evaluation.design.sample import build_analysis
from evaluation.disclosure.privacy import scan_run_folder
from evaluation.disclosure.rules import suppressed_label
from evaluation.errors import FreezeError, ParamsError
from evaluation.pipeline import provenance, workdir
from evaluation.pipeline.inputs import ensure_synthetic
from evaluation.resources import NOTEBOOKS
from evaluation.rng import stream
from evaluation.text import catalogue

#: ``kind`` of a design freeze file, and the version of its layout.
FREEZE_KIND = "evaluation-design-freeze"
FREEZE_FORMAT = 1
#: The freeze file's name in its folder.
FREEZE_FILE = "design_freeze.json"
#: Private sub-folder of the work folder holding each freeze's person-level design.
PRIVATE_FOLDER = "design"
#: The scratch files notebooks 01 and 02 hand over (see notebooks/01_data.py, 02_design.py).
DESIGN_DATA, DESIGN_HAND_OVER = "design_data.parquet", "design.parquet"
#: Columns of the participants table the design stage reads besides the covariates.
PARTICIPANT_COLUMNS = ("person_id", "group", "start_month", "birth_year", "arrival_year")
#: Columns of the monthly table the design stage reads.
MONTHLY_COLUMNS = ("person_id", "month", "employed", "earnings")
#: Code the design stage runs (recorded in the freeze; the person-level hash is the proof).
DESIGN_CODE = ("design", "data", "chapters/design.py", "rng.py", "calendar.py")


# --------------------------------------------------------------------------- hashing


def frame_sha256(frame: pd.DataFrame, *, sort_by: list[str] | None = None) -> str:
    """SHA-256 of a table's values, independent of the file format and dtype it came in.

    Columns are taken in name order; numbers (booleans and nullable integers included) as
    IEEE doubles (every NaN the same), everything else as text. With ``sort_by`` the rows
    are sorted first (the row order then does not count), otherwise it does.
    """
    if sort_by:
        frame = frame.sort_values(sort_by, kind="stable")
    h = hashlib.sha256(f"rows={len(frame)}\n".encode())
    for col in sorted(frame.columns, key=str):
        s = frame[col]
        h.update(f"{col}\x1e".encode())
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            arr = s.to_numpy(dtype=np.float64, na_value=np.nan).copy()
            arr[np.isnan(arr)] = np.nan
            arr[arr == 0] = 0.0  # -0.0 and 0.0 alike
            h.update(b"n" + arr.tobytes())
        else:
            text = "\x1f".join("\x00" if pd.isna(v) else str(v) for v in s.to_numpy(object))
            h.update(b"t" + text.encode("utf-8"))
    return h.hexdigest()


def canonical_json(value: Any) -> bytes:
    """The canonical bytes a fingerprint is taken over (sorted keys, no spaces, UTF-8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")  # fmt: skip


def fingerprint(content: Mapping[str, Any]) -> str:
    """SHA-256 of a freeze's canonical content."""
    return hashlib.sha256(canonical_json(content)).hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready copy: numpy scalars as Python, NaN and infinities as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _table(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A published table as records (its index as the first column)."""
    out = frame.reset_index()
    return _plain([{str(k): (None if _isna(v) else v) for k, v in row.items()}
                   for row in out.to_dict(orient="records")])  # fmt: skip


def _isna(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


# --------------------------------------------------------------------------- what the design reads


def design_parameters(params: Params) -> dict[str, Any]:
    """The parameters the design stage depends on: a change refuses ``run --design``.

    The seed (pseudo starts, the comparison subsample), the outcomes' horizons and pre-period
    (pseudo-start window, pre-period covariates, exclusions), the whole ``design`` section,
    the matching settings and the disclosure threshold (the design's published tables).
    """
    return _plain({
        "seed": params.seed,
        "outcomes": {"horizons": list(params.outcomes.horizons),
                     "pre_months": params.outcomes.pre_months,
                     "min_pre_months": params.outcomes.min_pre_months},
        "design": params.design.model_dump(mode="json"),
        "estimation.matching": params.estimation.matching.model_dump(mode="json"),
        "disclosure.min_cell": params.disclosure.min_cell,
    })  # fmt: skip


def grid_path(params: Params) -> Path:
    """The specification grid file (resolved when the parameters were read, as in a run)."""
    return Path(params.robustness.specifications)


def preregistered(params: Params) -> dict[str, Any]:
    """The analysis choices registered with the design: the headline and the grid.

    The grid is recorded as its parsed content (comments and layout do not count) with the
    SHA-256 of that content.
    """
    path = grid_path(params)
    if not path.is_file():
        raise ParamsError(f"{path}: specification grid file not found (robustness.specifications)")
    grid = _plain(yaml.safe_load(path.read_text("utf-8")))
    return {
        "headline": params.estimation.headline.model_dump(mode="json"),
        "specification_grid": {"file": path.name, "content": grid,
                               "sha256": hashlib.sha256(canonical_json(grid)).hexdigest()},
    }  # fmt: skip


def pre_period_rows(participants: pd.DataFrame, monthly: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``monthly`` the design stage reads, in :data:`MONTHLY_COLUMNS`.

    A person with a start month: the months before it. A person without one (a comparison
    person who will get a pseudo start): all rows, because the pseudo-start rule reads
    their coverage up to the longest horizon (module docstring). Rows of persons not in
    ``participants`` are not read. Neither table is modified.
    """
    start = participants.set_index(participants["person_id"].astype(str))["start_month"]
    pid = monthly["person_id"].astype(str)
    own = pid.map(start)
    month = monthly["month"].astype(str)
    known = pid.isin(start.index).to_numpy()
    no_start = own.isna().to_numpy()
    before = month.to_numpy(object) < own.fillna("").astype(str).to_numpy(object)
    keep = known & (no_start | before)
    return monthly.loc[keep, list(MONTHLY_COLUMNS)].reset_index(drop=True)


def design_inputs(params: Params, participants: pd.DataFrame, monthly: pd.DataFrame
                  ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """SHA-256 of the design's inputs, restricted to what the design reads.

    ``participants``: the columns :data:`PARTICIPANT_COLUMNS` and the covariates' (and the
    exact variable's) columns it has, in the file's row order (the order can change the
    design). ``monthly``: :func:`pre_period_rows`, in person and month order.
    """
    wanted = [*PARTICIPANT_COLUMNS, *params.design.covariates, params.design.exact or ""]
    columns = [c for c in participants.columns if c in wanted]
    rows = pre_period_rows(participants, monthly)
    return {
        "participants": {"columns": columns, "sha256": frame_sha256(participants[columns])},
        "monthly (pre-period rows)": {"columns": list(MONTHLY_COLUMNS),
                                      "sha256": frame_sha256(rows, sort_by=["person_id", "month"])},
    }  # fmt: skip


def design_frame_columns(frame: pd.DataFrame, horizons: list[int]) -> list[str]:
    """The analysis frame's columns handed to the design (notebook 01: all but outcomes)."""
    outcome_cols = {*outcome_names(horizons), "months_to_job", "job_found", "months_after"}
    return [c for c in frame.columns if c not in outcome_cols]


def person_design_hashes(design_data: pd.DataFrame, hand_over: pd.DataFrame,
                         params: Params) -> dict[str, str]:  # fmt: skip
    """SHA-256 of the person-level design: what it read and what it decided.

    ``design_data``: the persons, treatment and covariates the design read (the columns of
    the participants table it does not read are left out). ``hand_over``: every person's
    propensity score, trimming decision, matching and odds weights, as handed to the effects
    notebooks (the row labels included).
    """
    read = ["person_id", "treated", *params.design.covariates]
    if params.design.exact:
        read.append(params.design.exact)
    read = [c for c in dict.fromkeys(read) if c in design_data.columns]
    return {"design_data_sha256": frame_sha256(design_data[read]),
            "design_sha256": frame_sha256(hand_over.reset_index())}  # fmt: skip


def code_version() -> dict[str, Any]:
    """The package version, the commit, and the SHA-256 of the design stage's code."""
    src = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for part in DESIGN_CODE:
        target = src / part
        files = sorted(target.rglob("*.py")) if target.is_dir() else [target]
        for f in files:
            h.update(str(f.relative_to(src)).encode() + b"\0" + f.read_bytes())
    for nb in ("01_data.py", "02_design.py"):
        f = NOTEBOOKS / nb
        if f.is_file():
            h.update(f"notebooks/{nb}".encode() + b"\0" + f.read_bytes())
    commit = provenance.git_commit()
    return {"evaluation": __version__, "commit": commit.get("commit"),
            "dirty": commit.get("dirty"), "design_code_sha256": h.hexdigest()}  # fmt: skip


# --------------------------------------------------------------------------- the design stage


@dataclass(frozen=True)
class DesignStage:
    """The design stage computed on the design's inputs (person-level parts private)."""

    chapter: DesignChapter
    design_data: pd.DataFrame
    inputs: dict[str, dict[str, Any]]


def load_design_tables(params: Params) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The participants and monthly tables, validated against the data contract."""
    sources = params.data.sources()
    tables = load_study({"participants": sources["participants"], "monthly": sources["monthly"]})
    return tables.participants, tables.monthly


def run_design_stage(params: Params, participants: pd.DataFrame, monthly: pd.DataFrame,
                     private: Path) -> DesignStage:  # fmt: skip
    """Notebooks 01 and 02's design steps on the design's inputs only.

    The same calls as the notebooks make (:func:`build_analysis` with the seed's
    ``pseudo_starts`` stream, :func:`design_chapter` with its ``comparison_subsample``
    stream), with the design data passed through Parquet as notebook 02 reads them.
    """
    rows = pre_period_rows(participants, monthly)
    analysis = build_analysis(
        participants, rows, horizons=params.outcomes.horizons,
        pre_months=params.outcomes.pre_months, min_pre_months=params.outcomes.min_pre_months,
        rng=stream(params.seed, "pseudo_starts"),
    )  # fmt: skip
    frame = analysis.frame
    path = private / DESIGN_DATA
    frame[design_frame_columns(frame, params.outcomes.horizons)].to_parquet(path)
    design_data = pd.read_parquet(path)
    chapter = design_chapter(
        design_data, design=params.design.model_dump(mode="json"),
        matching=params.estimation.matching.model_dump(mode="json"),
        rng=stream(params.seed, "comparison_subsample"), min_cell=params.disclosure.min_cell,
        language=params.study.language,
    )  # fmt: skip
    chapter.hand_over.to_parquet(private / DESIGN_HAND_OVER)
    hand_over = pd.read_parquet(private / DESIGN_HAND_OVER)
    object.__setattr__(chapter, "hand_over", hand_over)
    return DesignStage(chapter, design_data, design_inputs(params, participants, monthly))


def _shown_count(n: int, k: int) -> int | str:
    return n if n == 0 or n >= k else suppressed_label(k)


def design_aggregates(stage: DesignStage, k: int) -> dict[str, Any]:
    """What the freeze publishes of the design: aggregates after disclosure control.

    The propensity model (coefficients, fit without its counts), the trimming and
    category-support tables as the run publishes them, the matching counts (a count of 1 to
    k-1 as ``<k``; the matched mentored only when the unmatched can be shown, so that neither
    can be had by subtraction), and per balance sample the terms above the threshold (the
    largest |SMD| of the weighted samples only: in an unweighted sample it can pin a count).
    """
    ch = stage.chapter
    counts = {name: len(ids) for name, ids in ch.counts.items()}
    unmatched = _shown_count(counts["n_unmatched"], k)
    fit = {key: v for key, v in ch.fit.items() if key not in ("n_obs", "n_treated")}
    balance = {}
    for name, summary in ch.balance_summaries.items():
        row = {"n_flagged": summary["n_flagged"], "n_terms": summary["n_terms"]}
        if name not in ("before", "trimmed"):
            row["max_abs_smd"] = round(float(summary["max_abs_smd"]), 3)
        balance[name] = row
    return _plain({
        "propensity_model": _table(ch.propensity.frame),
        "propensity_fit": fit,
        "trimming": _table(ch.trimming.frame),
        "category_support": _table(ch.category_support.frame),
        "matching": {
            "n_matched": (_shown_count(counts["n_matched"], k) if isinstance(unmatched, int)
                          else ".."),
            "n_unmatched": unmatched,
            "n_controls_used": _shown_count(counts["n_controls_used"], k),
        },
        "balance": balance,
    })  # fmt: skip


# --------------------------------------------------------------------------- the freeze file


@dataclass(frozen=True)
class FreezeWritten:
    """Where ``evaluation design`` wrote the freeze, its summaries and the private design."""

    folder: Path
    freeze: Path
    summaries: tuple[Path, ...]
    private: Path
    fingerprint: str


def write_design_freeze(
    params_path: Path | str,
    out_root: Path | str = "outputs",
    *,
    work_dir: Path | str | None = None,
    echo: Callable[..., Any] = print,
) -> FreezeWritten:
    """``evaluation design``: compute the design on its inputs only and freeze it.

    Raises
    ------
    ParamsError
        The parameter file is not a study's, or is invalid (exit 2).
    ContractError
        The participants or monthly table breaks the data contract (exit 3).
    """
    params_path = Path(params_path)
    base = params_path.resolve().parent
    text = read_params_text(params_path)
    params = parse_params(text, source=params_path, base=base)
    if not isinstance(params, Params):
        raise ParamsError(f"{params_path}: kind {params.kind} has no design stage to freeze; "
                          "evaluation design is for study parameter files.")  # fmt: skip
    out_root = Path(out_root).resolve()
    private_root = workdir.resolve_work_dir(params, base, out_root, work_dir)
    ensure_synthetic(params)
    check_input_files(params, source=params_path)
    echo("[design] reading participants and the pre-period of monthly ...", flush=True)
    participants, monthly = load_design_tables(params)
    started = provenance.utc_now()
    staging = workdir.private_dir(private_root / PRIVATE_FOLDER / f".staging-{time.time_ns()}")
    try:
        echo("[design] propensity score, trimming, matching, balance ...", flush=True)
        stage = run_design_stage(params, participants, monthly, staging)
        content = {
            "kind": FREEZE_KIND,
            "format": FREEZE_FORMAT,
            "study": {"name": params.study.name, "site": params.study.site},
            "frozen_at": started,
            "parameters": design_parameters(params),
            "inputs": stage.inputs,
            "design": design_aggregates(stage, params.disclosure.min_cell),
            "person_level": person_design_hashes(
                stage.design_data, stage.chapter.hand_over, params
            ),  # fmt: skip
            "preregistered": preregistered(params),
            "code": code_version(),
        }
        content = _plain(content)
        fp = fingerprint(content)
        private = private_root / PRIVATE_FOLDER / fp[:16]
        if private.exists():
            shutil.rmtree(private)
        staging.rename(private)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    folder = out_root / f"{params_path.stem}-design-{stamp}-{fp[:8]}"
    folder.mkdir(parents=True, exist_ok=True)  # the same second and fingerprint: the same freeze
    freeze_path = folder / FREEZE_FILE
    doc = {"fingerprint": fp, "content": content}
    freeze_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n", "utf-8")
    summaries = []
    for language in ("en", "sv"):
        path = folder / f"design_summary_{language}.md"
        path.write_text(summary_markdown(doc, language), "utf-8")
        summaries.append(path)
    scan_run_folder(folder, participants)
    return FreezeWritten(folder, freeze_path, tuple(summaries), private, fp)


def load_freeze(path: Path | str) -> dict[str, Any]:
    """Read a freeze file and check its fingerprint (exit 7 if it does not match).

    ``path`` may be the freeze file or the folder ``evaluation design`` wrote.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FREEZE_FILE
    if not path.is_file():
        raise ParamsError(f"{path}: no design freeze here (--design names the {FREEZE_FILE} "
                          "that evaluation design wrote, or its folder).")  # fmt: skip
    try:
        doc = json.loads(path.read_text("utf-8"))
        content, stated = doc["content"], doc["fingerprint"]
        kind = content["kind"]
    except (ValueError, KeyError, TypeError):
        raise ParamsError(f"{path}: not a design freeze (no fingerprint and content).") from None
    if kind != FREEZE_KIND:
        raise ParamsError(f"{path}: not a design freeze (kind {kind!r}).")
    actual = fingerprint(content)
    if actual != stated:
        raise FreezeError(
            f"{path}: the freeze's content does not match its fingerprint (stated "
            f"{stated[:16]}…, content gives {actual[:16]}…): the file was changed after it was "
            "written. Use the freeze as written (its fingerprint is the one registered)."
        )
    return doc


# --------------------------------------------------------------------------- checks


def _diff(old: Any, new: Any, path: str = "") -> list[str]:
    """``path: old -> new`` for every leaf that differs."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            out += _diff(old.get(key, "(absent)"), new.get(key, "(absent)"), sub)
        return out
    return [] if old == new else [f"{path}: {json.dumps(old)} -> {json.dumps(new)}"]


def parameter_differences(doc: Mapping[str, Any], params: Params) -> list[str]:
    """Design parameters that differ from the frozen ones, as ``path: frozen -> now``."""
    return _diff(doc["content"]["parameters"], design_parameters(params))


def input_differences(doc: Mapping[str, Any], inputs: Mapping[str, Any]) -> list[str]:
    """Design inputs whose restricted SHA-256 (or columns read) differ from the frozen ones."""
    out = []
    for name, frozen in doc["content"]["inputs"].items():
        now = inputs.get(name, {})
        if frozen.get("columns") != now.get("columns"):
            out.append(f"{name}: the design reads columns {frozen.get('columns')} in the freeze, "
                       f"{now.get('columns')} now")  # fmt: skip
        elif frozen.get("sha256") != now.get("sha256"):
            out.append(f"{name}: sha256 {frozen['sha256'][:16]}… in the freeze, "
                       f"{str(now.get('sha256'))[:16]}… now")  # fmt: skip
    return out


def check_before_run(doc: Mapping[str, Any], params: Params, freeze_path: Path) -> None:
    """Refuse (exit 7) a run whose design parameters or design inputs differ from the freeze."""
    problems = [f"design parameter {d}" for d in parameter_differences(doc, params)]
    if not problems:
        participants, monthly = load_design_tables(params)
        problems = [f"design input {d}" for d in
                    input_differences(doc, design_inputs(params, participants, monthly))]  # fmt: skip
        del participants, monthly
    if problems:
        raise FreezeError(
            f"the data or parameters the design needs differ from those frozen in {freeze_path} "
            f"(fingerprint {doc['fingerprint'][:16]}…):\n  - " + "\n  - ".join(problems) + "\n"
            "A frozen design is used only with the inputs it was frozen with. Restore them, or "
            "make and register a new freeze (evaluation design) and say why in the report."
        )


def design_record(scratch_dir: Path, params: Params) -> dict[str, str] | None:
    """The person-level design hashes of a run's notebooks (``None`` if not handed over)."""
    data, hand = scratch_dir / DESIGN_DATA, scratch_dir / DESIGN_HAND_OVER
    if not (data.is_file() and hand.is_file()):
        return None
    return {
        "parameters_sha256": hashlib.sha256(canonical_json(design_parameters(params))).hexdigest(),
        **person_design_hashes(pd.read_parquet(data), pd.read_parquet(hand), params),
    }


def freeze_provenance(doc: Mapping[str, Any], freeze_path: Path, record: Mapping[str, Any] | None,
                      params: Params) -> dict[str, Any]:  # fmt: skip
    """What a ``run --design`` records; raises (exit 7) if the design is not the frozen one."""
    frozen = doc["content"]["person_level"]
    if record is None or any(record.get(k) != v for k, v in frozen.items()):
        what = ("no design was handed over" if record is None else ", ".join(
            k for k, v in frozen.items() if record.get(k) != v))  # fmt: skip
        raise FreezeError(
            f"the design this run's notebooks computed is not the one frozen in {freeze_path} "
            f"(fingerprint {doc['fingerprint'][:16]}…): {what} differ(s). The inputs the design "
            "reads matched the freeze, so the design code or its environment changed since; "
            "the run is not published as a run of the frozen design."
        )
    reg = doc["content"]["preregistered"]
    now = preregistered(params)
    return {
        "fingerprint": doc["fingerprint"],
        "frozen_at": doc["content"]["frozen_at"],
        "file": freeze_path.name,
        "design_as_frozen": True,
        "headline_as_frozen": reg["headline"] == now["headline"],
        "grid_as_frozen": reg["specification_grid"]["sha256"]
        == now["specification_grid"]["sha256"],
        "frozen_headline": reg["headline"],
    }


def verify_against_freeze(doc: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    """Differences between a finished run and a freeze; empty: "design as frozen".

    Checks the design parameters the run was made with, its person-level design (the
    hashes its provenance records), that the run was computed after the freeze, and that
    its headline and specification grid are the frozen ones.
    """
    content = doc["content"]
    prov = results.get("provenance", {})
    record = prov.get("design")
    out: list[str] = []
    if record is None:
        return ["the run records no design hashes (made by a version before design freezes): "
                "it cannot be checked against a freeze"]  # fmt: skip
    params_now = hashlib.sha256(canonical_json(content["parameters"])).hexdigest()
    if record.get("parameters_sha256") != params_now:
        out.append("design parameters: the run's differ from the frozen ones")
    for key, frozen in content["person_level"].items():
        if record.get(key) != frozen:
            out.append(f"person-level design ({key}): {str(record.get(key))[:16]}… in the run, "
                       f"{frozen[:16]}… in the freeze")  # fmt: skip
    computed = prov.get("computed", {}).get("from") or prov.get("started")
    if computed and computed < content["frozen_at"]:
        out.append(f"order: the run's results were computed ({computed}) before the freeze "
                   f"({content['frozen_at']})")  # fmt: skip
    used = prov.get("design_freeze")
    if used is None:
        out.append("the run was not made with --design (a one-stage run): its design is "
                   "compared here, but it did not refuse changed inputs itself")  # fmt: skip
    else:
        if used.get("fingerprint") != doc["fingerprint"]:
            out.append(f"the run used another freeze ({str(used.get('fingerprint'))[:16]}…)")
        if not used.get("grid_as_frozen"):
            out.append("specification grid: changed after the freeze")
    headline = results.get("headline") or {}
    want = content["preregistered"]["headline"]
    got = {"estimator": headline.get("estimator"), "outcome": headline.get("outcome"),
           "subgroup": headline.get("subgroup", "all")}  # fmt: skip
    if got != want:
        out.append(
            f"headline: {want['estimator']} on {want['outcome']} ({want['subgroup']}) "
            f"frozen, {got['estimator']} on {got['outcome']} ({got['subgroup']}) in the run"
        )
    return out


# --------------------------------------------------------------------------- the summary


def summary_markdown(doc: Mapping[str, Any], language: str) -> str:
    """The freeze's one-page summary in ``language`` (texts from the catalogue)."""
    t = catalogue(language)
    c = doc["content"]
    p = c["parameters"]
    reg = c["preregistered"]
    d = c["design"]
    lines = [
        f"# {t['freeze_summary_title']}: {c['study']['name']}",
        "",
        t.format("freeze_summary_intro", date=c["frozen_at"]),
        "",
        f"**{t['freeze_fingerprint']}:** `{doc['fingerprint']}`",
        "",
        f"## {t['freeze_parameters']}",
        "",
        f"- {t['freeze_covariates']}: {', '.join(p['design']['covariates'])}",
        f"- {t['freeze_exact']}: {p['design']['exact'] or '—'}",
        f"- {t['freeze_trimming']}: {p['design']['trimming']}",
        f"- {t['freeze_matching']}: {json.dumps(p['estimation.matching'], ensure_ascii=False)}",
        f"- {t['freeze_pre_period']}: {p['outcomes']['pre_months']} / "
        f"{p['outcomes']['min_pre_months']}; {t['freeze_horizons']}: {p['outcomes']['horizons']}",
        f"- {t['freeze_seed']}: {p['seed']}",
        "",
        f"## {t['freeze_inputs']}",
        "",
        *[
            f"- {name}: `{h['sha256']}` ({', '.join(h['columns'])})"
            for name, h in c["inputs"].items()
        ],
        f"- {t['freeze_person_level']}: `{c['person_level']['design_sha256']}`",
        "",
        f"## {t['freeze_design']}",
        "",
        f"- {t['freeze_matched']}: {d['matching']['n_matched']}; {t['freeze_unmatched']}: "
        f"{d['matching']['n_unmatched']}; {t['freeze_controls_used']}: "
        f"{d['matching']['n_controls_used']}",
        *[
            f"- {t['freeze_balance']} ({name}): {row['n_flagged']} / {row['n_terms']}"
            + (f"; max |SMD| {row['max_abs_smd']}" if "max_abs_smd" in row else "")
            for name, row in d["balance"].items()
        ],
        "",
        f"## {t['freeze_preregistered']}",
        "",
        f"- {t['freeze_headline']}: {reg['headline']['estimator']} / {reg['headline']['outcome']}"
        f" / {reg['headline']['subgroup']}",
        f"- {t['freeze_grid']}: {reg['specification_grid']['file']} "
        f"(`{reg['specification_grid']['sha256'][:16]}…`)",
        f"- {t['freeze_code']}: evaluation {c['code']['evaluation']}, "
        f"{str(c['code']['commit'])[:12]}",
        "",
        t["freeze_limits"],
        "",
    ]
    return "\n".join(lines)
