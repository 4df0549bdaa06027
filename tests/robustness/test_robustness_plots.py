"""The robustness figures are drawn from their published tables, hidden cells included."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from evaluation.plots import robustness as plots
from evaluation.results.publish import table_frame
from evaluation.robustness.power import power_at
from evaluation.text import catalogue

K = 5


def _texts(fig) -> list[str]:
    out = [t.get_text() for t in fig.findobj(match=lambda a: hasattr(a, "get_text"))]
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is not None:
            out += [t.get_text() for t in legend.get_texts()]
    return out


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.mark.parametrize("language", ["en", "sv"])
def test_power_curve_shares_a_line_between_horizons_of_one_month(language):
    table = pd.DataFrame({"pre_month": [-6, -12, -12], "pre_share": [0.29, 0.26, 0.26],
                          "sd": [0.45, 0.44, 0.44], "mde": [0.264, 0.2556, 0.2556],
                          "se": [0.0942, 0.0912, 0.0912]},
                         index=pd.Index([6, 12, 24], name="horizon"))  # fmt: skip
    fig = plots.power_curve(table, language=language, min_cell=K, alpha=0.05, target=0.8)
    lines = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 161]
    assert len(lines) == 2  # 12 and 24 months share the spread of month -12
    np.testing.assert_allclose(lines[1].get_ydata(),
                               power_at(plots.POWER_GRID_PP / 100, 0.0912, 0.05))  # fmt: skip
    L = catalogue(language).section("figure.robustness")
    assert f"{L['horizon']} 12, 24 {L['months']}" in _texts(fig)


def test_power_curve_marks_a_hidden_standard_error_with_its_label():
    table = pd.DataFrame({"pre_month": [-6, -12], "pre_share": [0.29, 0.26], "sd": [0.45, 0.44],
                          "mde": ["..", 0.2556], "se": ["..", 0.0912]},
                         index=pd.Index([6, 12], name="horizon"))  # fmt: skip
    fig = plots.power_curve(table, language="en", min_cell=K, alpha=0.05, target=0.8)
    assert "horizon 6 months: .." in _texts(fig)
    assert len([ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 161]) == 1


def _placebo_records(hidden: str | None = None) -> list[dict]:
    rows = []
    for outcome in ("pre_employed_m6", "pre_earnings_6", "fake_start_employed_m6"):
        kind = "fake_start" if outcome.startswith("fake") else "pre"
        for est in ("naive", "ipw", "matching"):
            rows.append({"outcome": outcome, "estimator": f"placebo_{kind}_{est}",
                         "subgroup": "all", "estimate": 0.01, "se": 0.05, "ci_low": -0.09,
                         "ci_high": 0.11, "p_value": 0.8, "n_treated": 47, "n_control": 146})  # fmt: skip
    if hidden:
        rows[-1] |= {"estimate": hidden, "ci_low": hidden, "ci_high": hidden}
    return rows


def test_placebo_forest_draws_employment_of_adjusted_estimators_from_the_audited_table():
    ex = {"index": ["outcome", "estimator", "subgroup"]}
    fig = plots.placebo_forest(table_frame(_placebo_records("withheld (n<5)"), ex),
                               language="sv", min_cell=K, level=0.9)  # fmt: skip
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    L = catalogue("sv").section("figure.robustness")
    assert labels == [f"{L['pre']}, -6 {L['months']}: IPW",
                      f"{L['pre']}, -6 {L['months']}: {L['matching']}",
                      f"{L['fake']}, 6 {L['months']}: IPW",
                      f"{L['fake']}, 6 {L['months']}: {L['matching']}"]  # fmt: skip
    assert " withheld (n<5)" in _texts(fig)  # the hidden row: its own label, no point
    assert len(fig.axes[0].containers) == 3
    assert "90 % KI" in fig.axes[0].get_xlabel(), "the axis says the run's level"


def test_rosenbaum_bounds_leave_hidden_values_out_and_say_so():
    table = pd.DataFrame({"p_upper": [0.01, 0.02, ".."]},
                         index=pd.Index([1.0, 1.05, 1.1], name="gamma"))  # fmt: skip
    fig = plots.rosenbaum_bounds(table, language="en", min_cell=K, alpha=0.025)
    (curve,) = [ln for ln in fig.axes[0].get_lines() if len(ln.get_xdata()) == 3]
    assert np.isnan(curve.get_ydata()[2])
    assert ".." in _texts(fig) and "significance level 0.025" in _texts(fig)


def test_spec_curve_from_the_table_as_results_json_holds_it():
    records = []
    for i, (est, k, n) in enumerate([("matching", 4, 50), ("matching", 1, 49), ("ipw", None, 50),
                                     ("ipw", None, "<5")]):  # fmt: skip
        records.append({"outcome": "employed_m12", "horizon": 12, "estimator": est,
                        "covariate_set": "full", "trimming": "none" if i % 2 else "crump",
                        "neighbours": k, "caliper": 0.2 if k else None,
                        "estimate": None if n == "<5" else 0.1 + i / 100, "se": 0.05,
                        "ci_low": 0.0, "ci_high": 0.2, "p_value": 0.04 if i else 0.2,
                        "n_treated": n, "n_control": 140, "error": None})  # fmt: skip
    records[1]["estimate"] = "withheld (n<5)"  # as the audit leaves a statistic on few persons
    ex = {"index": ["outcome", "horizon", "estimator", "covariate_set", "trimming", "neighbours",
                    "caliper"]}  # fmt: skip
    fig = plots.spec_curve(table_frame(records, ex), language="en", min_cell=K, alpha=0.05)
    top, bottom = fig.axes
    assert "95 % CI" in top.get_ylabel()  # the intervals of the significance level shown
    assert sum(len(c[0].get_xdata()) for c in top.containers) == 2  # two shown estimates
    ticks = [t.get_text() for t in bottom.get_yticklabels()]
    assert "neighbours: 4" in ticks and "estimator: IPW" in ticks and "trimming: Crump" in ticks


def test_rosenbaum_level_in_swedish_has_a_decimal_comma():
    table = pd.DataFrame({"p_upper": [0.01, 0.02]}, index=pd.Index([1.0, 1.05], name="gamma"))
    fig = plots.rosenbaum_bounds(table, language="sv", min_cell=K, alpha=0.025)
    legend = " ".join(t.get_text() for t in fig.axes[0].get_legend().get_texts())
    assert "0,025" in legend and "0.025" not in legend
