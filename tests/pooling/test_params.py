"""The pooling parameter file (``kind: pooling``): paths, consistency, clear refusals.

No numerical tolerances: every check is exact.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluation.config import PoolingParams, load_params, parse_params
from evaluation.errors import ParamsError

ROOT = Path(__file__).resolve().parents[2]


def _doc(**changes) -> dict:
    doc = yaml.safe_load((ROOT / "params" / "benchmarks" / "pooling.yaml").read_text("utf-8"))
    doc.update(changes)
    return doc


def _parse(doc: dict, tmp_path: Path):
    return parse_params(yaml.safe_dump(doc), source=tmp_path / "p.yaml", base=tmp_path)


def test_shipped_file_is_valid_and_paths_resolve_against_it():
    params = load_params(ROOT / "params" / "benchmarks" / "pooling.yaml", check_files=False)
    assert isinstance(params, PoolingParams)
    assert [s.key for s in params.sites] == ["goteborg", "lodz", "porto"]
    assert params.sites[0].bundle == ROOT / "outputs" / "bundles" / "goteborg.json"
    assert params.sites[2].truth == ROOT / "data" / "synthetic-sites" / "porto" / "truth.json"
    assert set(params.input_files()) == {f"{p}_{k}" for p in ("bundle", "truth")
                                         for k in ("goteborg", "lodz", "porto")}  # fmt: skip


def test_inconsistent_files_are_refused_with_the_key(tmp_path):
    doc = _doc()
    doc["study"] = {**doc["study"], "currency": "SEK"}
    with pytest.raises(ParamsError, match=r"study.currency \(SEK\) must equal currency.target"):
        _parse(doc, tmp_path)
    doc = _doc()
    doc["sites"] = doc["sites"][:1]
    with pytest.raises(ParamsError, match="at least two sites"):
        _parse(doc, tmp_path)
    doc = _doc()
    doc["pooling"] = {**doc["pooling"], "outcomes": ["employed_m12", "wellbeing"]}
    with pytest.raises(ParamsError, match="pooling.outcomes must be distinct contract outcomes"):
        _parse(doc, tmp_path)
    doc = _doc()
    doc["headline"] = {**doc["headline"], "outcome": "employed_m24"}
    with pytest.raises(ParamsError, match="headline .* must name pooling.estimator"):
        _parse(doc, tmp_path)
    doc = _doc()
    doc["currency"] = {**doc["currency"], "exchange_rates": {"SEK": -1.0, "EUR": 1.0}}
    with pytest.raises(ParamsError, match="exchange_rates must be positive"):
        _parse(doc, tmp_path)
    doc = _doc()
    doc["sites"][0] = {**doc["sites"][0], "bundel": "x.json"}
    with pytest.raises(ParamsError, match=r"sites.0.bundel: unknown key"):
        _parse(doc, tmp_path)
    with pytest.raises(ParamsError, match="'pooling' \\(partner sites' bundles\\)"):
        _parse({**_doc(), "kind": "meta"}, tmp_path)
