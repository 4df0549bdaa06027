"""Site bundles: export from a finished run, and the gate that refuses unsafe or mismatched ones.

Tolerances: ``CONVERT`` 1e-12 relative for the currency factor (a product of three given
numbers, computed by hand below). Every other check is exact (strings, counts, refusals).
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest

from evaluation.cli import build_parser, main
from evaluation.errors import ContractError, DisclosureError, ParamsError
from evaluation.pooling.bundle import SCHEMA_FILE, Bundle, check_bundle, json_schema, read_bundle
from evaluation.pooling.compare import SiteBundle, check_comparable, money_factor
from evaluation.pooling.export import export_bundle

CONVERT = 1e-12


@pytest.fixture(scope="module")
def exported(finished_run, tmp_path_factory):
    run, _ = finished_run
    out = tmp_path_factory.mktemp("bundle") / "site.json"
    done = export_bundle(run.run_dir, out)
    return run.run_dir, done, json.loads(out.read_text("utf-8"))


def _write(tmp_path: Path, doc: dict, name: str = "b.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    return path


def test_export_holds_the_runs_aggregates(exported):
    run_dir, done, doc = exported
    results_text = (run_dir / "results.json").read_text("utf-8")
    results = json.loads(results_text)
    assert doc["schema"] == "evaluation.pooling.site-bundle" and doc["schema_version"] == 2
    assert doc["site"]["site"] == results["study"]["site"]
    assert doc["site"]["currency"] == "SEK"
    assert doc["provenance"]["results_sha256"] == hashlib.sha256(results_text.encode()).hexdigest()
    assert doc["provenance"]["params_sha256"] == results["provenance"]["params_sha256"]
    # the main estimates of every contract outcome and ATT estimator: 3 kinds x 3 horizons x 7
    # (overlap weights' ATO stays home: sites are pooled on the effect on the mentored)
    assert done.n_effects == len(doc["effects"]) == 63
    assert {e["estimand"] for e in doc["effects"]} == {"ATT"}
    main = {(e["outcome"], e["estimator"]): e for e in results["effects"]
            if e["notebook"] == "03_effects" and e["subgroup"] == "all"}  # fmt: skip
    for e in doc["effects"]:
        ref = main[(e["outcome"], e["estimator"])]
        assert (e["estimate"], e["se"]) == (ref["estimate"], ref["se"])
        assert e["n_treated"] in (ref["n_treated"], "..")  # '..': hidden (secondary)
    # counts as the run shows them: a count or the suppressed label, never a small number
    for key, value in doc["counts"].items():
        assert value in ("<5", "..") or value == 0 or value >= 5, key
    assert doc["counts"]["n_mentored"] == results["numbers"]["n_mentored"]
    assert doc["outcome_definitions"]["units"]["earnings_12"] == "money"
    assert doc["price_year"] == int(results["numbers"]["start_months"]["last"][:4])
    assert done.identifiers_scanned > 1000  # the site's person ids were looked for
    assert "person_id" not in json.dumps(doc)


def test_cli_export_writes_and_has_help(exported, tmp_path, capsys):
    run_dir, _, _ = exported
    out = tmp_path / "cli.json"
    assert main(["export", str(run_dir), "--out", str(out), "--price-year", "2020"]) == 0
    assert json.loads(out.read_text("utf-8"))["price_year"] == 2020
    assert "Written:" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["export", "--help"])
    assert exc.value.code == 0
    assert main(["export", str(tmp_path / "no-run")]) == 4  # as verify and exhibits
    assert "no-run: no such run folder" in capsys.readouterr().err
    (tmp_path / "empty-run").mkdir()
    assert main(["export", str(tmp_path / "empty-run")]) == 4
    assert "no results.json, so not a finished run folder" in capsys.readouterr().err


def test_person_identifier_is_refused(exported, tmp_path):
    _, _, doc = exported
    bad = copy.deepcopy(doc)
    bad["site"]["person_id"] = "P000123"
    path = _write(tmp_path, bad)
    with pytest.raises(DisclosureError) as exc:
        read_bundle(path)
    msg = str(exc.value)
    assert str(path) in msg and doc["site"]["site"] in msg and "site.person_id" in msg
    # a personal identity number anywhere, even as text in an allowed field
    bad = copy.deepcopy(doc)
    bad["withheld_effects"] = ["19850312-1234"]
    with pytest.raises(
        DisclosureError, match=r"withheld_effects\[0\]: text shaped like a personal"
    ):
        read_bundle(_write(tmp_path, bad))
    # the site's own identifiers, known at export
    text = json.dumps({**doc, "withheld_effects": ["P001234"]})
    with pytest.raises(DisclosureError, match="identifier of the site's input data"):
        check_bundle(text, "x.json", ids={"P001234"})


def test_unsuppressed_small_count_is_refused(exported, tmp_path):
    _, _, doc = exported
    bad = copy.deepcopy(doc)
    bad["counts"]["n_unmatched"] = 3
    path = _write(tmp_path, bad)
    with pytest.raises(DisclosureError) as exc:
        read_bundle(path)
    msg = str(exc.value)
    assert str(path) in msg and "counts.n_unmatched: 3 is below 5 and not suppressed" in msg
    bad = copy.deepcopy(doc)
    bad["effects"][0]["n_treated"] = 4
    with pytest.raises(DisclosureError, match=r"effects\[0\] .*n_treated 4 is below 5"):
        read_bundle(_write(tmp_path, bad))
    # the pooling study's stricter threshold applies to a bundle made with a laxer one
    ok = copy.deepcopy(doc)
    ok["counts"]["n_unmatched"] = 7
    path = _write(tmp_path, ok)
    assert read_bundle(path).counts["n_unmatched"] == 7
    with pytest.raises(DisclosureError, match="counts.n_unmatched: 7 is below 10"):
        read_bundle(path, min_cell=10)


def test_schema_is_enforced(exported, tmp_path):
    _, _, doc = exported
    bad = copy.deepcopy(doc)
    bad["microdata"] = [1, 2, 3]
    with pytest.raises(ContractError, match="microdata: unknown field"):
        read_bundle(_write(tmp_path, bad))
    bad = copy.deepcopy(doc)
    bad["schema_version"] = 1  # v1 had no secondary suppression: refused
    with pytest.raises(ContractError, match="schema version 1 is not supported"):
        read_bundle(_write(tmp_path, bad))
    bad = copy.deepcopy(doc)
    del bad["effects"][0]["se"]
    with pytest.raises(ContractError, match=r"effects\.0\.se: required field is missing"):
        read_bundle(_write(tmp_path, bad))
    (tmp_path / "not.json").write_text("{ nope", "utf-8")
    with pytest.raises(ContractError, match="not a JSON bundle"):
        read_bundle(tmp_path / "not.json")


def test_published_json_schema_matches_the_model_and_validates_bundles(exported):
    import jsonschema

    _, _, doc = exported
    schema = json.loads(SCHEMA_FILE.read_text("utf-8"))
    assert schema == json_schema(), "regenerate it: python -m evaluation.pooling.bundle"
    jsonschema.validate(doc, schema)
    with pytest.raises(jsonschema.ValidationError, match="person_id"):
        jsonschema.validate({**doc, "person_id": "P000001"}, schema)


def _site(doc: dict, key: str, tmp_path: Path, **changes) -> SiteBundle:
    d = copy.deepcopy(doc)
    d["site"]["site"] = key
    for dotted, value in changes.items():
        target = d
        *head, leaf = dotted.split("__")
        for part in head:
            target = target[part]
        target[leaf] = value
    path = _write(tmp_path, d, f"{key}.json")
    return SiteBundle(key, path, Bundle.model_validate(d))


def test_mismatched_outcome_definition_is_refused(exported, tmp_path):
    _, _, doc = exported
    a = _site(doc, "Site A", tmp_path)
    b = _site(doc, "Site B", tmp_path, outcome_definitions__horizons=[6, 12])
    check_comparable([a, _site(doc, "Site C", tmp_path)], ["employed_m12"], "matching", 0.95)
    with pytest.raises(ContractError) as exc:
        check_comparable([a, b], ["employed_m12"], "matching", 0.95)
    msg = str(exc.value)
    assert "Site B.json (site 'Site B')" in msg
    assert "outcome_definitions.horizons is [6, 12]" in msg and "[6, 12, 24]" in msg
    c = _site(doc, "Site C", tmp_path, outcome_definitions__pre_months=24)
    with pytest.raises(ContractError, match="outcome_definitions.pre_months is 24"):
        check_comparable([a, c], ["employed_m12"], "matching", 0.95)
    d = _site(doc, "Site D", tmp_path, study_version="0.0.9")
    with pytest.raises(ContractError, match="study_version is '0.0.9'"):
        check_comparable([a, d], ["employed_m12"], "matching", 0.95)
    units = {**doc["outcome_definitions"]["units"], "earnings_12": "share"}
    e = _site(doc, "Site E", tmp_path, outcome_definitions__units=units)
    with pytest.raises(ContractError, match="units.earnings_12 is 'share'"):
        check_comparable([a, e], ["earnings_12"], "matching", 0.95)
    with pytest.raises(ContractError, match="no outcome 'employed_m36'"):
        check_comparable([a, _site(doc, "Site F", tmp_path)], ["employed_m36"], "matching", 0.95)
    with pytest.raises(ContractError, match="given twice"):
        check_comparable([a, a], ["employed_m12"], "matching", 0.95)


def test_money_factor_by_hand():
    rates = {"SEK": 0.0944367, "PLN": 0.232688}
    cpi = {"SEK": {2017: 100.0, 2019: 104.0}}
    # same year: the rate; other year: CPI(2019)/CPI(2017) x rate = 1.04 x 0.0944367
    assert money_factor("SEK", 2019, target="EUR", target_year=2019, exchange_rates=rates,
                        price_index=cpi) == pytest.approx(0.0944367, rel=CONVERT)  # fmt: skip
    assert money_factor("SEK", 2017, target="EUR", target_year=2019, exchange_rates=rates,
                        price_index=cpi) == pytest.approx(0.098214168, rel=CONVERT)  # fmt: skip
    assert money_factor("EUR", 2019, target="EUR", target_year=2019, exchange_rates={},
                        price_index={}) == 1.0  # fmt: skip
    with pytest.raises(ParamsError, match="exchange_rates has no rate for NOK"):
        money_factor("NOK", 2019, target="EUR", target_year=2019, exchange_rates=rates,
                     price_index=cpi, source="n.json")  # fmt: skip
    with pytest.raises(ParamsError, match=r"price_index.PLN has no value for \[2018, 2019\]"):
        money_factor("PLN", 2018, target="EUR", target_year=2019, exchange_rates=rates,
                     price_index=cpi)  # fmt: skip
