"""The site bundle: what a partner site may send abroad, and the gate every bundle passes.

Person-level data and register extracts stay at each site (GDPR). What leaves is a small
JSON file made by ``evaluation export RUN_FOLDER`` from a finished study run: the effect
estimates with standard errors, balance summaries, counts (suppressed below the run's
disclosure threshold), the site's name, country, currency and price year, the outcome
definitions, and provenance hashes. Aggregates only.

Every bundle, at export and again when a pooling run reads it, passes :func:`check_bundle`:

1. it is JSON and holds no field named like a person identifier and no text shaped like a
   Swedish personal identity number (:data:`evaluation.disclosure.privacy.PIN_PATTERN`);
2. it meets the schema (:class:`Bundle`, unknown keys refused, schema version checked);
3. no count below the disclosure threshold is shown unsuppressed, and no effect rests on
   fewer treated persons than the threshold;
4. no suppressed count can be worked out from the published ones (differencing).

Disclosure rule of a bundle (threshold ``k`` = ``min_cell``; export applies it, the check
refuses a bundle that breaks it):

* **Primary suppression.** A count ``0 < n < k`` is shown as ``"<k"``.
* **No small differences.** The samples a bundle counts are nested (mentored ⊇ analysed
  after trimming ⊇ matched; comparison pool ⊇ analysed ⊇ controls used), so two published
  counts of persons -- in ``counts`` or an effect's ``n_treated`` / ``n_control`` -- that
  differ by 1 to ``k - 1`` show a group of fewer than ``k`` persons. Not allowed.
* **No recovery through the sums** (:data:`IDENTITIES`): ``n_mentored = n_trimmed_treated +
  analysed treated``, ``analysed treated = n_matched + n_unmatched``, ``n_comparison =
  n_trimmed_control + analysed control``, the analysed numbers being the effects' sample
  sizes (every estimator but matching). A reader who knows that ``"<k"`` means 1 to ``k - 1``
  must not be able to pin such a count to one value from them.
* **Secondary suppression.** Where either would happen, export hides a further number,
  shown ``".."`` (as :mod:`evaluation.disclosure.rules` does): an effect's sample size
  before any count, else the count least needed by the pooling (:data:`KEEP_ORDER`:
  ``n_mentored`` and ``n_comparison``, the site table's sizes, are hidden last), every place
  showing the same number together; repeated until nothing is given back. Estimates and
  standard errors -- all a meta-analysis uses -- are never hidden.

A refusal names the bundle file, the site and the field, and says what was expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluation.config import validation_lines
from evaluation.disclosure.differencing import (  # noqa: F401  (re-exported for export and tests)
    COUNT_KEYS,
    HIDDEN,
    IDENTITIES,
    KEEP_ORDER,
    Recovery,
    recoveries,
    secondary_suppress,
)
from evaluation.disclosure.privacy import PIN_PATTERN
from evaluation.disclosure.rules import SECONDARY_LABEL, suppressed_label
from evaluation.errors import ContractError, DisclosureError

#: The bundle format's name and version (bump the version when a field changes meaning).
SCHEMA = "evaluation.pooling.site-bundle"
SCHEMA_VERSION = 2  # 2: counts and sample sizes may be hidden ('..', secondary suppression);
#                      balance summaries may be withheld (a version-2 reader's bundles still pass)

#: Balance summaries a bundle carries (design stage, ``results.json`` numbers).
BALANCE_KEYS = ("balance_before", "balance_trimmed", "balance_matched", "balance_weighted")
#: Field names that would carry person-level identifiers: never allowed anywhere in a bundle.
IDENTIFIER_FIELDS = frozenset(
    {"person_id", "mentor_id", "personnummer", "personal_identity_number", "pin", "ssn",
     "samordningsnummer", "id_number"}
)  # fmt: skip

Unit = Literal["share", "months", "money"]
Count = int | str


def outcome_unit(outcome: str) -> Unit:
    """The unit of a contract outcome: a share (``employed_m``), months, or money (earnings)."""
    if outcome.startswith("employed_m"):
        return "share"
    if outcome.startswith("months_employed_"):
        return "months"
    if outcome.startswith("earnings_"):
        return "money"
    raise ValueError(f"'{outcome}' is not an outcome of the data contract")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleSite(_Model):
    """Who sent the bundle."""

    name: str = Field(min_length=1, description="The study's name at the site.")
    site: str = Field(min_length=1, description="The site (partner, region).")
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 country code.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code of money outcomes.")
    synthetic: bool


class OutcomeDefinitions(_Model):
    """How the outcomes were built (CONTRACT.md): must agree across pooled sites."""

    horizons: list[int]
    pre_months: int
    min_pre_months: int
    units: dict[str, Unit] = Field(description="Outcome -> share | months | money.")


class BundleEffect(_Model):
    """One effect estimate (overall, not by subgroup)."""

    outcome: str
    estimator: str
    estimand: str
    estimate: float
    se: float = Field(gt=0)
    ci_low: float
    ci_high: float
    p_value: float | None
    n_treated: Annotated[int, Field(ge=0)] | Literal[".."] = Field(
        description="Treated persons used, or '..' where it would give back a suppressed count."
    )
    n_control: Annotated[int, Field(ge=0)] | Literal[".."] = Field(
        description="Comparison persons used (0: fewer than min_cell), or '..' (hidden)."
    )
    se_method: str
    level: float = Field(gt=0.5, lt=1)


#: A value the run's disclosure control withheld: ``..`` (it gives a hidden count away),
#: ``<k`` or ``withheld (n<k)`` (it rests on fewer than k persons).
Withheld = Annotated[str, Field(pattern=r"^(\.\.|<\d+|withheld \(n<\d+\))$")]


class BalanceSummary(_Model):
    """Balance of the design stage (standardised mean differences).

    A value is its label where the run's disclosure control withheld it (a sample of fewer
    than min_cell persons).
    """

    max_abs_smd: float | Withheld
    n_flagged: Annotated[int, Field(ge=0)] | Withheld = Field(
        description="Covariate terms above the threshold (not persons)."
    )
    n_terms: int = Field(ge=0)
    ess_control: float | None | Withheld


class BundleProvenance(_Model):
    """Where the numbers came from: hashes, never content."""

    run: str
    params_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    inputs_sha256: dict[str, str | None]
    results_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    project_commit: str
    project_dirty: bool | None
    finished: str
    packages: dict[str, str]


class Bundle(_Model):
    """A site's export (JSON). See the module docstring for the checks it passes."""

    schema_name: Literal["evaluation.pooling.site-bundle"] = Field(alias="schema")
    schema_version: int
    study_version: str = Field(description="Version of the evaluation package that ran the study.")
    site: BundleSite
    estimand: str
    price_year: int = Field(ge=1900, le=2100)
    min_cell: int = Field(ge=1, le=100)
    outcome_definitions: OutcomeDefinitions
    counts: dict[str, Count]
    balance: dict[str, BalanceSummary]
    effects: list[BundleEffect] = Field(min_length=1)
    withheld_effects: list[str] = Field(
        default_factory=list, description="outcome/estimator pairs withheld (n treated < min_cell)."
    )
    provenance: BundleProvenance

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v != SCHEMA_VERSION:
            raise ValueError(
                f"schema version {v} is not supported (this study reads version {SCHEMA_VERSION}); "
                "export the bundle again with the same study version as the other sites"
            )
        return v

    def effect(self, outcome: str, estimator: str) -> BundleEffect | None:
        """The estimate of ``estimator`` on ``outcome``, or ``None``."""
        hits = [e for e in self.effects if e.outcome == outcome and e.estimator == estimator]
        return hits[0] if hits else None

    def to_json(self) -> str:
        """The bundle as JSON text (sorted as written, UTF-8, trailing newline)."""
        return json.dumps(self.model_dump(mode="json", by_alias=True), indent=2,
                          ensure_ascii=False) + "\n"  # fmt: skip


#: The bundle's JSON Schema, for partners who check a bundle without this package.
SCHEMA_FILE = Path(__file__).with_name("site_bundle.schema.json")


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`Bundle` (the file ``site_bundle.schema.json`` holds it)."""
    schema = Bundle.model_json_schema(by_alias=True)
    schema["$id"] = f"{SCHEMA}/v{SCHEMA_VERSION}"
    schema["$comment"] = (
        "Generated from evaluation.pooling.bundle.Bundle (python -m evaluation.pooling.bundle); "
        "the disclosure rules (counts below min_cell suppressed, no person identifiers) are "
        "checked by evaluation.pooling.bundle.check_bundle in addition."
    )
    return schema


# --- the gate ----------------------------------------------------------------------------


def _walk(value: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """Every (field path, key, value) of a JSON document, depth first."""
    out: list[tuple[str, str, Any]] = []
    if isinstance(value, dict):
        for key, sub in value.items():
            where = f"{path}.{key}" if path else str(key)
            out.append((where, str(key), sub))
            out += _walk(sub, where)
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            where = f"{path}[{i}]"
            out.append((where, "", sub))
            out += _walk(sub, where)
    return out


def _site_of(doc: Any) -> str:
    site = doc.get("site") if isinstance(doc, dict) else None
    if isinstance(site, dict) and isinstance(site.get("site"), str):
        return site["site"]
    return "(unknown site)"


def _scan_identifiers(doc: Any, source: str, site: str, extra_ids: set[str]) -> None:
    hits = []
    for where, key, value in _walk(doc):
        if key.lower() in IDENTIFIER_FIELDS:
            hits.append(f"  - {where}: a field named '{key}' (person-level identifier)")
        texts = [key]
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            texts.append(str(value))  # a personal identity number typed as a number
        for text in texts:
            if PIN_PATTERN.search(text):
                hits.append(f"  - {where}: text shaped like a personal identity number")
            elif extra_ids and any(
                tok in extra_ids for tok in re.findall(r"[A-Za-z0-9_\-]+", text)
            ):
                hits.append(f"  - {where}: an identifier of the site's input data")
    if hits:
        raise DisclosureError(
            f"{source} (site '{site}'): the bundle holds person identifiers:\n"
            + "\n".join(hits[:5])
            + ("\n  ..." if len(hits) > 5 else "")
            + "\nA bundle carries aggregates only: export it again with `evaluation export` "
            "from the finished run, and do not edit it by hand."
        )


def _schema_message(source: str, site: str, err: ValidationError) -> str:
    lines = [f"{source} (site '{site}'): the bundle does not meet the schema "
             f"{SCHEMA} v{SCHEMA_VERSION} ({err.error_count()} problem(s)):"]  # fmt: skip
    lines += validation_lines(
        err,
        unknown="unknown field (a bundle holds only the fields of the schema)",
        missing="required field is missing",
        limit=8,
    )
    lines.append("Export the bundle again with `evaluation export RUN_FOLDER`.")
    return "\n".join(lines)


def _check_counts(bundle: Bundle, source: str, threshold: int) -> None:
    label = suppressed_label(threshold)
    own = suppressed_label(bundle.min_cell)
    problems = []
    for key, value in bundle.counts.items():
        if isinstance(value, str):
            if value not in (label, own, SECONDARY_LABEL):
                problems.append(
                    f"  - counts.{key}: '{value}' is neither a count nor '{label}' "
                    f"nor '{SECONDARY_LABEL}'"
                )
        elif value < 0:
            problems.append(f"  - counts.{key}: {value} is negative")
        elif 0 < value < threshold:
            problems.append(f"  - counts.{key}: {value} is below {threshold} and not suppressed")
    for i, e in enumerate(bundle.effects):
        if isinstance(e.n_treated, int) and e.n_treated < threshold:
            problems.append(
                f"  - effects[{i}] ({e.estimator} on {e.outcome}): n_treated {e.n_treated} is "
                f"below {threshold}; such an estimate must be withheld"
            )
        if isinstance(e.n_control, int) and 0 < e.n_control < threshold:
            problems.append(
                f"  - effects[{i}] ({e.estimator} on {e.outcome}): n_control {e.n_control} is "
                f"below {threshold} and not suppressed"
            )
    if not problems:
        effects = [e.model_dump() for e in bundle.effects]
        problems = [f"  - {r.message}" for r in recoveries(bundle.counts, effects, threshold)]
    if problems:
        raise DisclosureError(
            f"{source} (site '{bundle.site.site}'): small counts would be disclosed "
            f"(threshold {threshold}):\n"
            + "\n".join(problems[:8])
            + "\nCounts below the threshold must be shown as "
            f"'{label}', and hidden ('{SECONDARY_LABEL}') wherever published counts would give "
            "them back; estimates on fewer treated persons are withheld. Export the bundle "
            "again with `evaluation export` (it applies the study's disclosure control)."
        )


def check_bundle(
    text: str, source: str | Path, *, min_cell: int | None = None, ids: set[str] | None = None
) -> Bundle:
    """Parse and check a bundle's text; return it, or raise naming file, site and field.

    Parameters
    ----------
    text
        The bundle's JSON text.
    source
        Its file (for messages).
    min_cell
        The pooling study's disclosure threshold; the stricter of it and the bundle's own is
        applied (default: the bundle's own).
    ids
        Person and mentor identifiers to look for (known at the site only, at export).

    Raises
    ------
    ContractError
        Not JSON, or not the schema.
    DisclosureError
        A person identifier, or an unsuppressed small count.
    """
    source = str(source)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContractError(
            f"{source}: not a JSON bundle ({exc.msg} at line {exc.lineno}). Give the file "
            "written by `evaluation export RUN_FOLDER`."
        ) from None
    site = _site_of(doc)
    _scan_identifiers(doc, source, site, {i for i in (ids or set()) if len(i) >= 4})
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ContractError(
            f"{source} (site '{site}'): field 'schema' is {doc.get('schema') if isinstance(doc, dict) else None!r}, "  # noqa: E501
            f"expected '{SCHEMA}'. Give the file written by `evaluation export RUN_FOLDER`."
        )
    try:
        bundle = Bundle.model_validate(doc)
    except ValidationError as err:
        raise ContractError(_schema_message(source, site, err)) from None
    threshold = max(bundle.min_cell, min_cell or 0)
    _check_counts(bundle, source, threshold)
    return bundle


def read_bundle(path: str | Path, *, min_cell: int | None = None) -> Bundle:
    """Read and check a bundle file (see :func:`check_bundle`)."""
    path = Path(path)
    if not path.is_file():
        raise ContractError(
            f"{path}: bundle file not found. Each site makes its bundle with "
            "`evaluation export RUN_FOLDER` and sends the file; give its path."
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError(f"{path}: cannot read the bundle as UTF-8 text ({exc}).") from None
    return check_bundle(text, path, min_cell=min_cell)


if __name__ == "__main__":
    SCHEMA_FILE.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"Written: {SCHEMA_FILE}")
