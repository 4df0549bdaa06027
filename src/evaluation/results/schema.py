"""The schema of a run's ``results.json``, checked every time the runner merges results.

``results.json`` is the interface between the notebooks and everyone after them: the report,
reviewers, ``verify``, ``compare``, the site bundle. Its shape is a pydantic model here; the
JSON Schema generated from it is shipped as ``results.schema.json`` beside this module (a test
keeps the two equal) so that readers outside Python can validate a run too. Beyond the shape,
:func:`check_results` checks what a schema cannot say: exhibit keys are unique, every number
is registered as an exhibit, and every figure's source table exists.

The contract fields of an effect (``shared/CONTRACT.md``) are required; a sample size may be
text where disclosure control hid it (``"<5"``, ``".."``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluation.errors import RunError

#: ``$id`` of the schema (bumped when the shape changes incompatibly).
SCHEMA = "evaluation.results"
SCHEMA_VERSION = 1
SCHEMA_FILE = Path(__file__).with_name("results.schema.json")

Number = float | None
SampleSize = int | str


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Effect(_Open):
    """One estimated effect (CONTRACT.md's fields first; more are allowed)."""

    outcome: str
    estimator: str
    estimand: str
    estimate: Number
    se: Number
    ci_low: Number
    ci_high: Number
    p_value: Number
    n_treated: SampleSize = Field(description="Persons treated (text when hidden: '<k', '..').")
    n_control: SampleSize = Field(description="Comparison persons (text when hidden).")
    se_method: str = Field(description="How the standard error was obtained.")
    level: float = Field(gt=0, lt=1)
    subgroup: str = "all"
    spec: dict[str, Any] = Field(default_factory=dict)
    notebook: str | None = None
    made_by: str | None = Field(None, description="Import path of the code that made it.")


class Exhibit(_Closed):
    """One registered table, figure or number."""

    key: str
    kind: Literal["table", "figure", "number"]
    title: str
    notebook: str
    made_by: str = Field(description="Import path of the code that made it, or a "
                         "'params: ...'/'file: ...' source.")  # fmt: skip
    files: list[str] = Field(default_factory=list)
    alt: str = ""
    note: str = ""
    draw: str = Field("", description="For a figure drawn from a table: the drawing function.")
    source: str = Field("", description="For a figure drawn from a table: the table's key.")
    options: dict[str, Any] = Field(default_factory=dict)
    index: list[str] = Field(
        default_factory=list, description="For a table: its index columns (first in its records)."
    )


class RunResults(_Closed):
    """The whole of ``results.json``."""

    kind: Literal["study", "lalonde", "pooling"]
    study: dict[str, Any]
    effects: list[Effect]
    headline: Effect | None
    numbers: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    skipped: dict[str, str]
    exhibits: list[Exhibit]
    provenance: dict[str, Any]
    programme: dict[str, Any] | None = Field(
        None,
        description="A study's programme as the report describes it (the parameter file's "
        "programme block: name, funder, period, aims, logic per language, esf_indicators).",
    )
    labels: dict[str, dict[str, Any]] | None = Field(
        None,
        description="The parameter file's report.labels: display labels of category values.",
    )


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`RunResults` (``results.schema.json`` holds it)."""
    schema = RunResults.model_json_schema()
    schema["$id"] = f"{SCHEMA}/v{SCHEMA_VERSION}"
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def write_json_schema(path: Path = SCHEMA_FILE) -> Path:
    """Write :func:`json_schema` (run when the model changes; a test checks it is current)."""
    path.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    return path


def check_results(results: dict[str, Any]) -> RunResults:
    """Validate a merged ``results.json``; return the parsed model.

    Raises
    ------
    RunError
        Naming each field that breaks the schema (path and what was expected), or the
        registry rule that is broken. This is a bug of the study's code, not of the data:
        the message says so.
    """
    try:
        parsed = RunResults.model_validate(results)
    except ValidationError as err:
        lines = [f"  {'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()[:20]]
        raise RunError(
            "results.json does not meet its schema (src/evaluation/results/schema.py); this "
            "is a bug in the study's code, please report it:\n" + "\n".join(lines)
        ) from None
    keys = [e.key for e in parsed.exhibits]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    problems = [f"exhibit keys registered twice: {twice}"] if twice else []
    numbers = {e.key for e in parsed.exhibits if e.kind == "number"}
    unregistered = sorted(set(parsed.numbers) - numbers)
    if unregistered:
        problems.append(f"numbers without an exhibit entry: {unregistered}")
    tables = set(parsed.tables)
    for ex in parsed.exhibits:
        if ex.kind == "figure" and ex.source and ex.source not in tables:
            problems.append(f"figure {ex.key} is drawn from table {ex.source}, not registered")
    if problems:
        raise RunError(
            "results.json breaks the exhibit registry's rules; this is a bug in the study's "
            "code, please report it:\n" + "\n".join(f"  {p}" for p in problems)
        )
    return parsed
