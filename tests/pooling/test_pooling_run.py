"""The pooling run end to end: three bundles in, pooled report out; refusals stop it first.

The bundles are the export of the session's finished study run with the matching estimates
of ``employed_m12`` replaced by the hand-worked example of ``test_meta.py``
(y = 0.0, 0.4, 0.2; se = 0.1, 0.1, 0.05), so that the run's numbers can be checked against
hand-computed values and statsmodels' ``combine_effects`` on the same inputs.

Tolerances: ``HAND`` 1e-10 absolute (exact fractions, see test_meta.py); ``SM`` 1e-8 relative
against statsmodels (Paule-Mandel iterated there with ``atol=1e-8``); ``MONEY`` 1e-9 relative
for converted amounts (products of given numbers).
"""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from evaluation.cli import main
from evaluation.errors import ContractError, DisclosureError
from evaluation.pipeline.run import run_study
from evaluation.pooling.export import export_bundle
from evaluation.report.render import render_html

HAND = 1e-10
SM = 1e-8
MONEY = 1e-9

SITES = [  # key, site, country, currency, employed_m12 estimate and se, earnings_12 in own currency
    ("alpha", "Alpha (test)", "SE", "SEK", 0.0, 0.1, 10589.1),
    ("beta", "Beta (test)", "PL", "PLN", 0.4, 0.1, 4297.6),
    ("gamma", "Gamma (test)", "PT", "EUR", 0.2, 0.05, 1500.0),
]
RATES = {"SEK": 0.0944367, "PLN": 0.232688, "EUR": 1.0}
TRUTH = {"alpha": (0.05, 50), "beta": (0.35, 120), "gamma": (0.20, 80)}  # true ATT, n mentored


def _bundle(doc: dict, key: str, site: str, country: str, currency: str, y: float, se: float,
            earn: float) -> dict:  # fmt: skip
    d = copy.deepcopy(doc)
    d["site"].update(site=site, country=country, currency=currency)
    for e in d["effects"]:
        if e["estimator"] != "matching":
            continue
        if e["outcome"] == "employed_m12":
            e.update(estimate=y, se=se, ci_low=y - 1.96 * se, ci_high=y + 1.96 * se)
        if e["outcome"] == "earnings_12":
            e.update(estimate=earn, se=earn / 2, ci_low=0.0, ci_high=2 * earn)
    return d


@pytest.fixture(scope="module")
def pooling_folder(finished_run, tmp_path_factory):
    run, _ = finished_run
    folder = tmp_path_factory.mktemp("pooling")
    export_bundle(run.run_dir, folder / "base.json")
    doc = json.loads((folder / "base.json").read_text("utf-8"))
    sites = []
    for key, site, country, currency, y, se, earn in SITES:
        (folder / f"{key}.json").write_text(
            json.dumps(_bundle(doc, key, site, country, currency, y, se, earn)), "utf-8"
        )
        truth = {"att": {"employed_m12": TRUTH[key][0]}, "n_mentored": TRUTH[key][1]}
        (folder / f"{key}-truth.json").write_text(json.dumps(truth), "utf-8")
        sites.append({"key": key, "bundle": f"{key}.json", "truth": f"{key}-truth.json"})
    params = {
        "kind": "pooling",
        "study": {"name": "Pooling test", "site": "Three test sites", "country": "EU",
                  "currency": "EUR", "language": "en", "synthetic": True},
        "sites": sites,
        "pooling": {"estimator": "matching", "outcomes": ["employed_m12", "earnings_12"],
                    "tau2_method": "paule_mandel", "level": 0.95},
        "currency": {"target": "EUR", "price_year": doc["price_year"], "exchange_rates": RATES},
        "headline": {"estimator": "matching", "outcome": "employed_m12", "subgroup": "pooled"},
    }  # fmt: skip
    (folder / "pooling.yaml").write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    return folder, doc


@pytest.fixture(scope="module")
def pooled_run(pooling_folder):
    folder, _ = pooling_folder
    result = run_study(folder / "pooling.yaml", folder / "outputs", echo=lambda *a, **k: None)
    results = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    return result, results


def test_pooled_numbers_match_hand_and_statsmodels(pooled_run):
    _, results = pooled_run
    n = results["numbers"]["pool_employed_m12"]
    y = np.array([0.0, 0.4, 0.2])
    v = np.array([0.01, 0.01, 0.0025])
    # by hand (test_meta.py): FE 0.2, Q 8, I^2 0.75, tau^2 DL 0.02, PM 0.03
    assert n["fixed"]["estimate"] == pytest.approx(0.2, abs=HAND)
    assert n["q"] == pytest.approx(8.0, abs=HAND) and n["i2"] == pytest.approx(0.75, abs=HAND)
    assert n["tau2_all"]["dersimonian_laird"] == pytest.approx(0.02, abs=HAND)
    assert n["tau2"] == pytest.approx(0.03, abs=HAND)  # Paule-Mandel, the chosen method
    # PM: the generalised Q is k - 1, so the HK scale is 1: se^2 = 1 / sum(1/(v + 0.03))
    se = math.sqrt(1 / np.sum(1 / (v + 0.03)))
    t2 = stats.t.isf(0.025, 2)
    assert n["random_hk"]["se"] == pytest.approx(se, abs=1e-9)
    assert n["random_hk"]["ci_low"] == pytest.approx(0.2 - t2 * se, abs=1e-9)
    # statsmodels on the same inputs
    pm = combine_effects(y, v, method_re="iterated", use_t=True, atol=1e-8, maxiter=1000)
    _, _, _, ci_hk = pm.conf_int(alpha=0.05, use_t=True)
    np.testing.assert_allclose([n["random_hk"]["ci_low"], n["random_hk"]["ci_high"]], ci_hk,
                               rtol=SM)  # fmt: skip
    np.testing.assert_allclose(n["random"]["se"], pm.sd_eff_w_re, rtol=SM)
    dl = combine_effects(y, v, method_re="chi2", use_t=True)
    np.testing.assert_allclose(n["tau2_all"]["dersimonian_laird"], dl.tau2, rtol=SM)
    # the headline is the pooled (Hartung-Knapp) entry, with the sites' treated summed
    head = results["headline"]
    assert head["subgroup"] == "pooled" and head["estimate"] == pytest.approx(0.2, abs=HAND)
    sites = [e for e in results["effects"] if e["subgroup"].startswith("site:")
             and e["outcome"] == "employed_m12"]  # fmt: skip
    assert head["n_treated"] == sum(e["n_treated"] for e in sites)
    assert len(n["leave_one_out"]) == 3
    loo = {r["left_out"]: r for r in n["leave_one_out"]}
    assert loo["gamma"]["estimate"] == pytest.approx(0.2, abs=HAND)


def test_money_is_converted_before_pooling(pooled_run):
    _, results = pooled_run
    n = results["numbers"]["pool_earnings_12"]
    got = {s["key"]: s for s in n["sites"]}
    for key, _, _, currency, _, _, earn in SITES:
        assert got[key]["factor"] == pytest.approx(RATES[currency], rel=MONEY)
        assert got[key]["estimate"] == pytest.approx(earn * RATES[currency], rel=MONEY)
        assert got[key]["se"] == pytest.approx(earn / 2 * RATES[currency], rel=MONEY)
    # 10589.1 SEK and 4297.6 PLN are both 1000 EUR at the ECB 2019 averages given
    assert got["alpha"]["estimate"] == pytest.approx(1000.0, rel=1e-6)
    assert got["beta"]["estimate"] == pytest.approx(1000.0, rel=1e-6)


def test_truth_check_and_report(pooled_run):
    result, results = pooled_run
    truth = results["numbers"]["pool_truth_employed_m12"]
    # by hand: (0.05 x 50 + 0.35 x 120 + 0.20 x 80) / 250 = 60.5 / 250
    assert truth["size_weighted"] == pytest.approx(0.242, abs=HAND)
    assert truth["covered"] is True
    html = result.report.read_text("utf-8")
    for text in (
        "Alpha (test)",
        "Beta (test)",
        "Gamma (test)",
        "Hartung–Knapp",
        "Leaving one site out",
        "prediction interval",
        'id="fig-pool_forest_employed_m12"',
    ):
        assert text in html, text
    assert (result.report.parent / "report_en.pdf").is_file()
    assert "cut there and ends in an arrowhead" in html  # the forest plot's text (a share)
    sv = render_html(results, "sv", result.run_dir)  # every Swedish text is there
    assert "Skogsdiagram" in sv and "Alpha (test)" in sv
    # the Hartung-Knapp limitation says what this run's intervals do. employed_m12 (the hand
    # example, far apart): HK wider than the normal interval everywhere. earnings_12: 1000,
    # 1000 and 1500 EUR with SEs 500, 500, 750 give Q = 0.364 by hand, so with all sites the
    # HK interval is t_2 x sqrt(Q/2) = 4.303 x 0.427 = 1.84 SEs against 1.96, and without
    # Gamma the two left agree to 1e-3 EUR (Q ~ 0); without Alpha or Beta, t_1 x sqrt(Q) = 7.0.
    assert results["numbers"]["pool_employed_m12"]["hk_narrower"] == []
    cases = {c["left_out"] for c in results["numbers"]["pool_earnings_12"]["hk_narrower"]}
    assert cases == {None, "gamma"}
    assert "as with two sites left" not in html
    assert "as it is here for " in html and "without Gamma (test)" in html
    assert "with all sites" in html and "without Alpha (test)" not in html
    assert "som här för " in sv and "utan Gamma (test)" in sv and "med alla orter" in sv
    # where it is narrower nowhere, the sentence says so (en and sv)
    none = copy.deepcopy(results)
    none["numbers"]["pool_earnings_12"]["hk_narrower"] = []
    en_none, sv_none = (render_html(none, lang, result.run_dir) for lang in ("en", "sv"))
    assert "Here it is not narrower than the normal interval for any outcome" in en_none
    assert "as it is here for" not in en_none
    assert "Här är det inte smalare än det normalfördelade intervallet" in sv_none
    for page in (html, sv):
        assert "{{" not in page and "{%" not in page
        assert "None" not in re.sub(r"<[^>]+>", " ", page)
    status = json.loads((result.run_dir / "status.json").read_text("utf-8"))
    assert status["status"] == "succeeded"  # the identifier scan ran and passed
    assert set(results["provenance"]["inputs"]) >= {"bundle_alpha", "bundle_beta", "bundle_gamma"}


def _params_with(folder: Path, key: str, doc: dict, name: str) -> Path:
    (folder / f"{key}.json").write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    params = yaml.safe_load((folder / "pooling.yaml").read_text("utf-8"))
    params["sites"][1]["bundle"] = f"{key}.json"
    path = folder / name
    path.write_text(yaml.safe_dump(params, allow_unicode=True), "utf-8")
    return path


def test_bad_bundles_stop_the_run_before_any_notebook(pooling_folder, capsys):
    folder, doc = pooling_folder
    beta = _bundle(doc, *SITES[1])
    mismatched = copy.deepcopy(beta)
    mismatched["outcome_definitions"]["horizons"] = [6, 12]
    path = _params_with(folder, "mismatched", mismatched, "mismatched.yaml")
    with pytest.raises(ContractError) as exc:
        run_study(path, folder / "out-bad", echo=lambda *a, **k: None)
    msg = str(exc.value)
    assert "mismatched.json (site 'Beta (test)')" in msg and "outcome_definitions.horizons" in msg
    assert not (folder / "out-bad").exists()  # refused before a run folder was made
    assert main(["run", "--params", str(path), "--out", str(folder / "out-bad")]) == 3
    leaky = copy.deepcopy(beta)
    leaky["counts"]["n_unmatched"] = 2
    path = _params_with(folder, "leaky", leaky, "leaky.yaml")
    assert main(["run", "--params", str(path), "--out", str(folder / "out-bad")]) == 5
    err = capsys.readouterr().err
    assert "leaky.json (site 'Beta (test)')" in err and "counts.n_unmatched: 2" in err
    assert "Traceback" not in err
    with pytest.raises(DisclosureError):
        run_study(path, folder / "out-bad", echo=lambda *a, **k: None)


def test_unconvertible_money_stops_the_run_before_any_notebook(pooling_folder, capsys):
    folder, doc = pooling_folder
    nok = _bundle(doc, "beta", "Beta (test)", "NO", "NOK", 0.4, 0.1, 4297.6)
    path = _params_with(folder, "nok", nok, "nok.yaml")
    with pytest.raises(ContractError) as exc:
        run_study(path, folder / "out-nok", echo=lambda *a, **k: None)
    msg = str(exc.value)
    assert "nok.json (site 'Beta (test)'): field site.currency is 'NOK'" in msg
    assert "exchange_rates has no rate for NOK" in msg and "earnings_12" in msg
    assert not (folder / "out-nok").exists()  # refused before a run folder was made
    assert main(["run", "--params", str(path), "--out", str(folder / "out-nok")]) == 3
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not (folder / "out-nok").exists()
    # another price year without a price index
    old = _bundle(doc, "beta", "Beta (test)", "PL", "PLN", 0.4, 0.1, 4297.6)
    old["price_year"] = doc["price_year"] - 2
    path = _params_with(folder, "old", old, "old.yaml")
    with pytest.raises(ContractError, match=rf"old.json \(site 'Beta \(test\)'\): field "
                       rf"price_year is {doc['price_year'] - 2}.*price_index.PLN"):  # fmt: skip
        run_study(path, folder / "out-old", echo=lambda *a, **k: None)
