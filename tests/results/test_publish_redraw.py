"""A figure the disclosure audit makes the run draw again keeps the notebooks' theme."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib as mpl

from evaluation.results import publish

K = 5


def test_a_redrawn_figure_is_drawn_in_the_study_theme(tmp_path, monkeypatch):
    results = {
        "exhibits": [
            {"key": "steps", "kind": "table", "index": ["month"]},
            {"key": "curve", "kind": "figure", "source": "steps", "options": {},
             "draw": "evaluation.plots.timing.time_to_job"},
        ],
        "tables": {"steps": [{"month": 0, "mentored": 0.0, "comparison": 0.0},
                             {"month": 3, "mentored": 0.4, "comparison": ".."}]},
    }  # fmt: skip
    drawn = []
    monkeypatch.setattr(publish, "write_figure", lambda run_dir, key, fig, language:
                        drawn.append((fig, mpl.rcParams["axes.grid"])))  # fmt: skip
    mpl.rcdefaults()  # the run's process has not set the theme
    keys = publish.redraw_figures(tmp_path, results, {"steps"}, min_cell=K, language="en")
    assert keys == {"curve"}
    ((fig, grid),) = drawn
    ax = fig.axes[0]
    assert grid and not ax.spines["top"].get_visible(), "seaborn whitegrid, no top spine"
    assert not mpl.rcParams["axes.grid"], "the theme is set for the redraw only"
