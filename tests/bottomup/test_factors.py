"""The instrument, the generator and the parameters agree; the EFA recovers the structure."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluation.bottomup.factors import exploratory_factors
from evaluation.bottomup.instrument import load_instrument, mapping_differences
from evaluation.bottomup.scales import reverse_code
from evaluation.config import load_params
from evaluation.data import synth

MIN_PRIMARY = 0.45  # every item loads at least this much on its intended factor (large n)
MAX_CROSS = 0.25  # and less than this on any other


def test_instrument_generator_and_parameters_agree(root):
    ins = load_instrument()
    assert list(ins.items["item"]) == list(synth.SURVEY_ITEMS)
    for item, factor, reverse in ins.items[["item", "factor", "reverse"]].itertuples(index=False):
        assert synth.SURVEY_ITEMS[item][:2] == (factor, reverse), item
    follow_only = {i for i, w in zip(ins.items["item"], ins.items["waves"], strict=True)
                   if w == ("follow_up",)}  # fmt: skip
    assert follow_only == {i for i, v in synth.SURVEY_ITEMS.items()
                           if v[0] in synth.FOLLOW_UP_ONLY}  # fmt: skip
    bu = load_params(root / "params" / "default.yaml", check_files=False).bottomup
    assert mapping_differences(ins, bu.factors, bu.reverse) == []
    assert bu.follow_up_factors == list(synth.FOLLOW_UP_ONLY)
    assert mapping_differences(ins, {**bu.factors, "goal": ["goal_1"]}, bu.reverse)
    assert all(ins.items["text_sv"].str.len() > 10) and all(ins.items["text_en"].str.len() > 10)


def test_efa_puts_every_item_on_its_intended_factor(large_study):
    ins = load_instrument()
    factors = {f: its for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    base = large_study.survey.loc[large_study.survey["wave"] == "baseline", list(synth.SURVEY_ITEMS)]
    efa = exploratory_factors(reverse_code(base, ins.reverse()), factors, rotation="promax")
    assert efa.agreement == 1.0
    for item, factor in efa.intended.items():
        assert efa.loadings.loc[item, factor] >= MIN_PRIMARY, item
        others = efa.loadings.loc[item].drop(factor).abs()
        assert (others < MAX_CROSS).all(), item
    table = efa.table()
    assert list(table.columns) == ["intended", *factors, "communality"]


def test_efa_detects_a_wrong_mapping(large_study):
    """Swap two items between factors: the EFA must disagree with that mapping."""
    ins = load_instrument()
    factors = {f: list(its) for f, its in ins.factors().items() if f not in synth.FOLLOW_UP_ONLY}
    factors["goal"][0], factors["network"][0] = factors["network"][0], factors["goal"][0]
    base = large_study.survey.loc[large_study.survey["wave"] == "baseline", list(synth.SURVEY_ITEMS)]
    efa = exploratory_factors(reverse_code(base, ins.reverse()), factors)
    assert efa.agreement == pytest.approx(12 / 14)
    assert not efa.primary.equals(pd.Series(efa.intended))
