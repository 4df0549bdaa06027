"""The synthetic partner sites differ as specified, and the default study is left unchanged.

Tolerances: ``SCALE`` 2e-3 relative for earnings drawn in another currency against the same
draw in SEK (each monthly amount is rounded to a whole unit: at about 1 600 EUR a month the
rounding is below 1e-3 relative). Sizes and orderings are exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation import synth
from evaluation.pooling.sites import SyntheticSite, generate_sites, read_spec

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "params" / "benchmarks" / "sites" / "sites.yaml"
SCALE = 2e-3


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sites")
    spec = read_spec(SPEC).model_dump()
    spec["out"] = str(folder)
    path = folder / "sites.yaml"
    path.write_text(json.dumps(spec), "utf-8")  # JSON is YAML
    folders = generate_sites(path)
    return {k: json.loads((f / "truth.json").read_text("utf-8")) for k, f in folders.items()}


def test_sites_differ_in_size_labour_market_and_effect(sites):
    spec = read_spec(SPEC).sites
    assert {k: t["n_mentored"] for k, t in sites.items()} == {
        k: s.n_mentored for k, s in spec.items()}  # fmt: skip
    # true effects follow the specified sizes (Łódź 0 < Göteborg 0.10 < Porto 0.30) ...
    by_size = sorted(spec, key=lambda k: spec[k].effect_size)
    att = [sites[k]["att"]["employed_m12"] for k in by_size]
    assert att == sorted(att) and att[-1] - att[0] > 0.15
    # ... and untreated employment follows the labour market (logit shift -0.6 < 0 < 0.5)
    by_market = sorted(spec, key=lambda k: spec[k].employment_shift)
    base = [sites[k]["comparison_employed_m12"] for k in by_market]
    assert base == sorted(base)
    for key, site in spec.items():
        assert sites[key]["labour_market"]["currency"] == site.currency


def test_earnings_are_drawn_in_the_sites_currency(tmp_path):
    site = SyntheticSite(seed=7, n_mentored=20, n_comparison=60, effect_size=0.1,
                         currency="EUR", earnings_per_sek=0.0944367)  # fmt: skip
    sek = SyntheticSite(**{**site.model_dump(), "currency": "SEK", "earnings_per_sek": 1.0})
    a = synth.generate(
        7,
        n_mentored=20,
        n_comparison=60,
        effect=synth.EffectSpec(size=0.1),
        market=synth.LabourMarket(earnings_scale=site.earnings_per_sek),
    )
    b = synth.generate(
        7,
        n_mentored=20,
        n_comparison=60,
        effect=synth.EffectSpec(size=0.1),
        market=synth.LabourMarket(earnings_scale=sek.earnings_per_sek),
    )
    assert (a.monthly["employed"] == b.monthly["employed"]).all()  # same draws, same jobs
    ratio = a.monthly["earnings"].sum() / b.monthly["earnings"].sum()
    assert ratio == pytest.approx(0.0944367, rel=SCALE)


def test_default_study_is_drawn_as_before():
    """``market=None`` and a neutral market give the same study, byte for byte."""
    plain = synth.generate(11, n_mentored=10, n_comparison=40)
    neutral = synth.generate(11, n_mentored=10, n_comparison=40, market=synth.LabourMarket())
    for name in synth.TABLES:
        assert getattr(plain, name).equals(getattr(neutral, name)), name
    assert "labour_market" not in plain.truth and "labour_market" in neutral.truth
