"""``evaluation export RUN_FOLDER``: a site's disclosure-checked bundle from a finished run.

The bundle is built from the run's ``results.json`` only (the report's source too), so it
holds nothing the run did not already publish: overall effects with standard errors,
balance summaries, counts after the study's disclosure control, the site's identity and
provenance hashes. Before it is written it passes the same gate a pooling run applies
(:func:`evaluation.pooling.bundle.check_bundle`), plus a scan for the site's own person and
mentor identifiers where the input tables are still at hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evaluation.config import Params, parse_params
from evaluation.data.identifiers import identifiers
from evaluation.disclosure.rules import suppressed_label
from evaluation.errors import ContractError, ParamsError
from evaluation.pooling.bundle import (
    BALANCE_KEYS,
    COUNT_KEYS,
    SCHEMA,
    SCHEMA_VERSION,
    BalanceSummary,
    Bundle,
    check_bundle,
    outcome_unit,
    secondary_suppress,
)
from evaluation.results.runfolder import finished_run_folder

#: Outcomes of the data contract that a bundle carries (CONTRACT.md).
OUTCOME_PREFIXES = ("employed_m", "months_employed_", "earnings_")
#: Where bundles go unless ``--out`` says otherwise: ``<outputs>/bundles/<site key>.json``,
#: beside the run folders (never inside a finished run, whose files are its record).
BUNDLES_DIR = "bundles"
#: The price years a bundle may state (the schema's range).
PRICE_YEARS = (1900, 2100)


@dataclass(frozen=True)
class Exported:
    """What ``export`` wrote."""

    path: Path
    site: str
    n_effects: int
    n_withheld: int
    identifiers_scanned: int


def _finished_results(run_dir: Path) -> tuple[dict[str, Any], str]:
    # the run's parameters are read from its results' provenance, not params.yaml
    results = finished_run_folder(run_dir, needs=("results.json",)) / "results.json"
    text = results.read_text("utf-8")
    doc = json.loads(text)
    if doc.get("kind", "study") != "study":
        raise ContractError(
            f"{results}: field kind is '{doc.get('kind')}'; only a study run (kind: study) can "
            "be exported as a site bundle."
        )
    return doc, hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_price_year(price_year: int | None) -> None:
    """Refuse a price year outside the range a bundle may state (exit 2)."""
    lo, hi = PRICE_YEARS
    if price_year is not None and not lo <= price_year <= hi:
        raise ParamsError(
            f"--price-year {price_year}: expected a year from {lo} to {hi} (the year whose "
            "prices the site's money outcomes are in), or leave it out to use the year of the "
            "last start month."
        )


def site_key(run_dir: Path, results: dict[str, Any]) -> str:
    """The site's key for the default file name: the parameter file's stem (``goteborg``)."""
    stem = Path(str(results.get("provenance", {}).get("params_file", ""))).stem
    if not stem:
        name = run_dir.resolve().name
        stem = re.sub(r"-(\d{8}-\d{6}-[0-9a-f]+|latest)$", "", name)
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", stem) or "site"


def default_target(run_dir: Path, results: dict[str, Any]) -> Path:
    """``<the run folder's parent>/bundles/<site key>.json`` (outside every run folder)."""
    return run_dir.resolve().parent / BUNDLES_DIR / f"{site_key(run_dir, results)}.json"


def _count(value: Any, threshold: int) -> int | str:
    if isinstance(value, str):
        return value
    n = int(value)
    return suppressed_label(threshold) if 0 < n < threshold else n


def _site_identifiers(params: Params) -> set[str]:
    """Person and mentor identifiers of the site's inputs, if the tables are still there."""
    if not Path(params.data.participants).is_file():
        return set()
    participants, mentors = identifiers(params, None)
    return {str(x) for x in participants["person_id"].dropna()} | set(mentors)


#: The estimand of a bundle's effects: the average effect on the mentored.
BUNDLE_ESTIMAND = "ATT"


def build_bundle(
    results: dict[str, Any],
    params: Params,
    *,
    run_name: str,
    results_sha256: str,
    price_year: int | None = None,
) -> tuple[Bundle, list[str]]:
    """The bundle of one run's results (not yet checked); also the withheld effects."""
    k = params.disclosure.min_cell
    numbers = results["numbers"]
    prov = results["provenance"]
    if price_year is None:
        last = (numbers.get("start_months") or {}).get("last")
        if not last:
            raise ContractError(
                "the run's results hold no start months (numbers.start_months); give the price "
                "year of the money outcomes with --price-year YEAR."
            )
        price_year = int(str(last)[:4])
    effects, withheld = [], []
    for e in results["effects"]:
        # the main estimates (notebook 03) of the contract outcomes, overall, of the effect on
        # the mentored: overlap weights (ATO) estimate another population's effect, which
        # sites could not be pooled on
        if (
            e.get("notebook") != "03_effects"
            or e.get("subgroup", "all") != "all"
            or not e["outcome"].startswith(OUTCOME_PREFIXES)
            or e["estimand"] != BUNDLE_ESTIMAND
        ):
            continue
        n_t, n_c = e["n_treated"], e["n_control"]  # '..' where the study's results hid it
        if e["se"] is None or not e["se"] > 0 or (isinstance(n_t, int) and n_t < k):
            withheld.append(f"{e['outcome']}/{e['estimator']}")
            continue
        effects.append({
            "outcome": e["outcome"], "estimator": e["estimator"], "estimand": e["estimand"],
            "estimate": e["estimate"], "se": e["se"], "ci_low": e["ci_low"],
            "ci_high": e["ci_high"], "p_value": e["p_value"], "n_treated": n_t,
            "n_control": n_c if not isinstance(n_c, int) or n_c >= k else 0,
            "se_method": e.get("se_method", ""), "level": e.get("level", 0.95),
        })  # fmt: skip
    counts = {key: _count(numbers[key], k) for key in COUNT_KEYS if key in numbers}
    # secondary suppression: no published combination may give a suppressed count back
    secondary_suppress(counts, effects, k)
    estimands = sorted({e["estimand"] for e in effects})
    if len(estimands) != 1:
        raise ContractError(f"the run's overall effects have estimands {estimands}; expected one.")
    outcomes = sorted({e["outcome"] for e in effects})
    inputs = {name: (None if h is None else h["sha256"]) for name, h in prov["inputs"].items()}
    doc = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "study_version": prov["packages"].get("evaluation", "unknown"),
        "site": {
            key: results["study"][key]
            for key in ("name", "site", "country", "currency", "synthetic")
        },  # fmt: skip
        "estimand": estimands[0],
        "price_year": price_year,
        "min_cell": k,
        "outcome_definitions": {
            "horizons": params.outcomes.horizons,
            "pre_months": params.outcomes.pre_months,
            "min_pre_months": params.outcomes.min_pre_months,
            "units": {o: outcome_unit(o) for o in outcomes},
        },
        "counts": counts,
        # the summary fields of the bundle format; the run's other diagnostics (KS, variance
        # ratios, squares and products) stay in its report
        "balance": {
            key.removeprefix("balance_"): {
                f: v for f, v in numbers[key].items() if f in BalanceSummary.model_fields
            }
            for key in BALANCE_KEYS
            if key in numbers
        },  # fmt: skip
        "effects": effects,
        "withheld_effects": withheld,
        "provenance": {
            "run": run_name,
            "params_sha256": prov["params_sha256"],
            "inputs_sha256": inputs,
            "results_sha256": results_sha256,
            "project_commit": prov["project"]["commit"],
            "project_dirty": prov["project"]["dirty"],
            "finished": prov.get("finished", ""),
            "packages": prov["packages"],
        },
    }
    return Bundle.model_validate(doc), withheld


def export_bundle(
    run_dir: str | Path, out: str | Path | None = None, *, price_year: int | None = None
) -> Exported:
    """Write the site bundle of a finished study run; return where and what.

    Parameters
    ----------
    run_dir
        A finished run folder of ``evaluation run`` (``kind: study``).
    out
        The bundle file (default :func:`default_target`: ``<run_dir>/../bundles/<site>.json``).
    price_year
        Price year of the money outcomes (default: the year of the last start month).

    Raises
    ------
    ParamsError
        A price year outside 1900-2100.
    RunError
        Not a finished run (missing folder, failed run, no ``results.json``).
    ContractError
        Not a study run, or ``out`` inside a run folder.
    DisclosureError
        The bundle would carry an identifier or an unsuppressed small count.
    """
    run_dir = Path(run_dir)
    check_price_year(price_year)
    results, digest = _finished_results(run_dir)
    prov = results["provenance"]
    params = parse_params(prov["params"], source=run_dir / "params.yaml",
                          base=Path(prov["params_dir"]))  # fmt: skip
    if not isinstance(params, Params):
        raise ContractError(f"{run_dir}: not a study run; only study runs can be exported.")
    bundle, withheld = build_bundle(results, params, run_name=run_dir.resolve().name,
                                    results_sha256=digest, price_year=price_year)  # fmt: skip
    target = Path(out) if out is not None else default_target(run_dir, results)
    if target.resolve().is_relative_to(run_dir.resolve()):
        raise ContractError(
            f"--out {target}: inside the run folder {run_dir}, whose files are the run's record. "
            "Write the bundle elsewhere (default: the bundles/ folder beside the run folders)."
        )
    ids = _site_identifiers(params)
    text = bundle.to_json()
    check_bundle(text, target, ids=ids)  # the same gate as the pooling run, plus the site's ids
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, target)
    return Exported(target, bundle.site.site, len(bundle.effects), len(withheld), len(ids))
