"""Figures of the timing chapter, drawn from its published tables (hidden cells as text)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from evaluation.plots import timing as plots

K = 5
HIDDEN = f"withheld (n<{K})"


def _event_study_table() -> pd.DataFrame:
    k = np.arange(-3, 4)
    cols = {}
    for sample in ("matched", "ipw"):
        for outcome in ("employed", "earnings"):
            est = 0.01 * k
            cols |= {f"{sample}_{outcome}_estimate": est, f"{sample}_{outcome}_se": 0.01,
                     f"{sample}_{outcome}_ci_low": est - 0.02,
                     f"{sample}_{outcome}_ci_high": est + 0.02,
                     f"{sample}_{outcome}_band_low": est - 0.03,
                     f"{sample}_{outcome}_band_high": est + 0.03}  # fmt: skip
    table = pd.DataFrame(cols, index=pd.Index(k, name="event_time")).astype(object)
    table.loc[3, "matched_employed_estimate"] = HIDDEN  # the last month rests on few persons
    table.loc[3, "ipw_employed_estimate"] = ".."
    return table


@pytest.mark.parametrize("language", ["en", "sv"])
def test_event_study_marks_a_hidden_coefficient_with_its_own_label(language):
    fig = plots.event_study(_event_study_table(), language=language, min_cell=K,
                            outcome="employed", currency="SEK", level=0.9)  # fmt: skip
    ax = fig.axes[0]
    assert sorted(t.get_text() for t in ax.texts) == ["..", HIDDEN]
    legend = " ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "90 %" in legend and "95" not in legend, "the bands' level is the run's"
    matched = ax.lines[0].get_ydata()
    assert np.isnan(matched[-1]), "a hidden coefficient is not drawn"
    assert matched[0] == pytest.approx(-3.0), "employment is drawn in percentage points"
    assert ax.get_xlabel() and ax.get_ylabel() and ax.get_legend() is not None


def _bands_table(twfe: object = 0.05) -> pd.DataFrame:
    e = np.arange(-2, 3)
    cols = {}
    for outcome in ("employed", "earnings"):
        att = 0.02 * e
        cols |= {f"{outcome}_dr_att": att, f"{outcome}_dr_band_low": att - 0.05,
                 f"{outcome}_dr_band_high": att + 0.05, f"{outcome}_or_att": att + 0.01,
                 f"{outcome}_twfe": [twfe] * len(e)}  # fmt: skip
    return pd.DataFrame(cols, index=pd.Index(e, name="event_time")).astype(object)


def test_staggered_draws_the_twfe_line_and_a_hidden_twfe_only_in_the_legend():
    fig = plots.staggered(_bands_table(), language="en", min_cell=K, outcome="earnings",
                          currency="SEK", level=0.95)  # fmt: skip
    ax = fig.axes[0]
    flat = [ln for ln in ax.lines if ln.get_linestyle() == ":"]
    assert len(flat) == 1 and flat[0].get_ydata()[0] == pytest.approx(0.05)
    fig = plots.staggered(_bands_table(HIDDEN), language="sv", min_cell=K, outcome="earnings",
                          currency="SEK", level=0.995)  # fmt: skip
    ax = fig.axes[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(text.endswith(f": {HIDDEN}") for text in legend)
    assert any(text.startswith("99,5 %") for text in legend), legend
    assert not [ln for ln in ax.lines if ln.get_linestyle() == ":" and len(ln.get_ydata())]


def test_time_to_job_steps_through_the_published_points_only():
    table = pd.DataFrame({"mentored": [0.0, np.nan, 0.3, 0.5], "comparison": [0.0, 0.1, np.nan, ".."]},
                         index=pd.Index([0, 2, 5, 9], name="month"))  # fmt: skip
    fig = plots.time_to_job(table, language="en", min_cell=K)
    ax = fig.axes[0]
    mentored, comparison = (ln.get_ydata() for ln in ax.lines[:2])
    assert list(mentored) == [0.0, 0.3, 0.5] and list(comparison) == [0.0, 0.1]
    assert [t.get_text() for t in ax.texts] == [".."]
    assert ax.get_ylim() == (0, 1)
