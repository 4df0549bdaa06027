"""The bottom-up figures are drawn from the published tables: hidden cells stay hidden."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from evaluation.plots import bottomup as plots  # noqa: E402
from evaluation.text import catalogue  # noqa: E402

K = 5


def texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("language", ["en", "sv"])
def test_answer_bars_draw_hidden_groups_as_one_marked_segment(language):
    table = pd.DataFrame(
        {"wording": ["First item", "Second item"], "disagree": [f"<{K}", 0.273],
         "neutral": ["..", 0.273], "agree": [0.455, 0.455]},
        index=pd.Index(["a", "b"], name="item"),
    )  # fmt: skip
    fig = plots.answer_bars(table, language=language, min_cell=K)
    ax = fig.axes[0]
    L = catalogue(language).section("figure.bottomup")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [L["disagree"], L["neutral"], L["agree"], L["hidden"].format(min_cell=K)]
    assert texts(fig) == [f"<{K} .."], "the hidden cells' own labels, nothing guessed"
    hatched = [p for p in ax.patches if p.get_hatch() == "//"]
    assert len(hatched) == 1 and hatched[0].get_width() == pytest.approx(1 - 0.455)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["First item", "Second item"]
    assert list(ax.get_yticks()) == [1, 0], "in the table's order, from the top"
    plt.close(fig)


def test_moderation_dots_leave_a_hidden_estimate_out_with_its_label():
    table = pd.DataFrame(
        {"estimate": [0.5, "withheld (n<5)"], "se": [0.2, "withheld (n<5)"],
         "ci_low": [0.1, "withheld (n<5)"], "ci_high": [0.9, "withheld (n<5)"],
         "flagged": [True, False]},
        index=pd.Index(["goal", "barrier"], name="factor"),
    )  # fmt: skip
    fig = plots.moderation_dots(table, language="sv", min_cell=K)
    ax = fig.axes[0]
    assert texts(fig) == ["withheld (n<5)"]
    short = catalogue("sv").categories["factor_short"]
    assert [t.get_text() for t in ax.get_yticklabels()] == [short["goal"], short["barrier"]]
    plt.close(fig)


def test_dose_points_mark_a_withheld_band_and_open_the_last():
    table = pd.DataFrame(
        {"mentored": [9, f"<{K}", 16], "estimate": [2.0, "withheld (n<5)", 0.6],
         "ci_low": [-1.0, "withheld (n<5)", -0.9], "ci_high": [5.0, "withheld (n<5)", 2.2]},
        index=pd.Index(["1-8", "9-12", "13-1000"], name="term"),
    )  # fmt: skip
    fig = plots.dose_points(table, language="en", min_cell=K)
    ax = fig.axes[0]
    assert texts(fig) == ["withheld (n<5)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1-8", "9-12", "13+"]
    drawn = ax.lines[0].get_xydata()
    assert np.array_equal(drawn[:, 0], [0, 2]), "only the bands shown are drawn"
    plt.close(fig)
