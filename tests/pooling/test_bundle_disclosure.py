"""A bundle gives no suppressed count back; export's error paths; the share's drawn intervals.

Tolerances: every check here is exact (counts, strings, exit codes) except the drawn
intervals, which are compared with ``DRAW`` 1e-9 absolute (percentage points on the axis).

The differencing cases are hand-worked from the numbers of the synthetic Göteborg and Łódź
sites (outputs of ``make pooling``):

* Göteborg: 50 mentored, ``<5`` trimmed, 48 analysed (the effects' n_treated), 47 matched,
  ``<5`` unmatched. 50 - 48 = 2 trimmed and 48 - 47 = 1 unmatched were given back; so were
  50 - 47 = 3 mentored not matched. Export must hide 48 (an effect size, hidden first) and
  47 (n_matched, kept after n_mentored), everywhere they appear.
* Łódź: 120 mentored, ``<5`` trimmed, 118 analysed, 111 matched, 7 unmatched. 120 - 118 = 2
  trimmed; with 118 hidden, 111 + 7 = 118 gives it back through the sums, so 7 is hidden too
  (n_unmatched is the count kept last).
"""

from __future__ import annotations

import copy
import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluation.cli import main
from evaluation.errors import DisclosureError
from evaluation.pooling import meta
from evaluation.pooling.bundle import check_bundle, read_bundle, recoveries
from evaluation.pooling.export import export_bundle
from evaluation.pooling.pool import PooledOutcome
from evaluation.pooling.report import hk_narrower, leave_one_out_table, pooled_number

DRAW = 1e-9
K = 5
ROOT = Path(__file__).resolve().parents[2]

GOTEBORG = {"n_mentored": 50, "n_comparison": 1500, "n_trimmed_treated": "<5",
            "n_trimmed_control": 328, "n_matched": 47, "n_unmatched": "<5",
            "n_controls_used": 125}  # fmt: skip
GOTEBORG_N = {"analysed": (48, 1172), "matching": (47, 125)}
LODZ = {
    "n_mentored": 120,
    "n_comparison": 2400,
    "n_trimmed_treated": "<5",
    "n_trimmed_control": 525,
    "n_matched": 111,
    "n_unmatched": 7,
    "n_controls_used": 304,
}
LODZ_N = {"analysed": (118, 1875), "matching": (111, 304)}


def _run_like(finished_run, tmp_path: Path, counts: dict, ns: dict, name: str) -> Path:
    """A finished run folder whose results.json has the given counts and sample sizes."""
    run, _ = finished_run
    results = json.loads((run.run_dir / "results.json").read_text("utf-8"))
    results["numbers"].update(counts)
    for e in results["effects"]:
        if e["notebook"] == "03_effects":
            e["n_treated"], e["n_control"] = ns["matching" if e["estimator"] == "matching"
                                                else "analysed"]  # fmt: skip
    folder = tmp_path / name
    folder.mkdir()
    (folder / "results.json").write_text(json.dumps(results), "utf-8")
    (folder / "status.json").write_text(json.dumps({"status": "succeeded"}), "utf-8")
    return folder


def _feasible(doc: dict) -> dict[str, set[int]]:
    """Brute force: every value of each '<k' count consistent with what the bundle shows.

    Independent of the module's propagation: tries every assignment of the hidden numbers
    of the treated side (mentored = trimmed + analysed, analysed = matched + unmatched).
    """
    c = doc["counts"]
    shown_a = {e["n_treated"] for e in doc["effects"] if e["estimator"] != "matching"}
    shown_m = {e["n_treated"] for e in doc["effects"] if e["estimator"] == "matching"}

    def values(key: str, extra: set, top: int) -> range | list[int]:
        v = c.get(key)
        if isinstance(v, int):
            return [v]
        ints = [x for x in extra if isinstance(x, int)]
        if ints:
            return ints
        return range(1, K) if v == f"<{K}" else range(0, top + 1)

    top = c["n_mentored"] if isinstance(c["n_mentored"], int) else 500
    out: dict[str, set[int]] = {"n_trimmed_treated": set(), "n_unmatched": set()}
    for m, t, a, mm, u in itertools.product(
        values("n_mentored", set(), top),
        values("n_trimmed_treated", set(), top),
        values("n_analysed", shown_a, top),
        values("n_matched", shown_m, top),
        values("n_unmatched", set(), top),
    ):
        if m == t + a and a == mm + u:
            out["n_trimmed_treated"].add(t)
            out["n_unmatched"].add(u)
    return out


def _published(doc: dict) -> list[int]:
    vals = [v for v in doc["counts"].values() if isinstance(v, int) and v > 0]
    for e in doc["effects"]:
        vals += [e[f] for f in ("n_treated", "n_control") if isinstance(e[f], int) and e[f] > 0]
    return vals


@pytest.mark.parametrize(("name", "counts", "ns", "hidden_counts", "hidden_n"), [
    ("goteborg", GOTEBORG, GOTEBORG_N, {"n_matched"}, {48, 47}),
    ("lodz", LODZ, LODZ_N, {"n_unmatched"}, {118}),
])  # fmt: skip
def test_export_hides_what_would_give_a_suppressed_count_back(
    finished_run, tmp_path, name, counts, ns, hidden_counts, hidden_n
):
    run = _run_like(finished_run, tmp_path, counts, ns, f"{name}-run")
    out = tmp_path / f"{name}.json"
    export_bundle(run, out)
    doc = json.loads(out.read_text("utf-8"))
    # hand-worked (module docstring): exactly these are hidden, shown '..'
    assert {k for k, v in doc["counts"].items() if v == ".."} == hidden_counts
    for k, v in doc["counts"].items():
        if k not in hidden_counts:
            assert v == counts[k], k
    shown_n = {e[f] for e in doc["effects"] for f in ("n_treated", "n_control")}
    assert ".." in shown_n and not (shown_n & hidden_n)
    # estimates and standard errors are all still there (what the meta-analysis needs)
    assert all(e["se"] > 0 for e in doc["effects"]) and len(doc["effects"]) == 63
    # no two published counts differ by 1..k-1
    vals = _published(doc)
    assert not [(a, b) for a in vals for b in vals if 0 < a - b < K]
    # brute force: each suppressed count keeps at least two possible values
    for key, possible in _feasible(doc).items():
        if doc["counts"][key] == f"<{K}":
            assert len(possible) >= 2, (key, possible)
    assert recoveries(doc["counts"], doc["effects"], K) == []


def test_bundle_that_gives_a_count_back_is_refused(finished_run, tmp_path):
    run = _run_like(finished_run, tmp_path, GOTEBORG, GOTEBORG_N, "gbg-run")
    export_bundle(run, tmp_path / "ok.json")
    doc = json.loads((tmp_path / "ok.json").read_text("utf-8"))
    # the Göteborg bundle as it was made before: every number shown
    leaky = copy.deepcopy(doc)
    leaky["counts"] = dict(GOTEBORG)
    for e in leaky["effects"]:
        e["n_treated"], e["n_control"] = GOTEBORG_N["matching" if e["estimator"] == "matching"
                                                    else "analysed"]  # fmt: skip
    # the brute force agrees that it gives both counts back exactly
    assert _feasible(leaky) == {"n_trimmed_treated": {2}, "n_unmatched": {1}}
    with pytest.raises(DisclosureError) as exc:
        check_bundle(json.dumps(leaky), "goteborg.json")
    msg = str(exc.value)
    assert "goteborg.json (site '" in msg
    assert "counts.n_mentored = 50 and effects[0].n_treated" in msg and "differ by 2" in msg
    assert "counts.n_trimmed_treated is shown as '<5' but equals 2" in msg
    # hiding only the effect sizes is not enough: 50 - 47 = 3 mentored not matched
    part = copy.deepcopy(leaky)
    for e in part["effects"]:
        e["n_treated"] = ".."
    with pytest.raises(DisclosureError, match=r"counts.n_mentored = 50 and counts.n_matched = 47 "
                       r"differ by 3"):  # fmt: skip
        check_bundle(json.dumps(part), "goteborg.json")
    # Łódź-like: no pair differs by less than 5, but the sums pin the trimmed count
    lodz = copy.deepcopy(doc)
    lodz["counts"] = dict(LODZ)
    for e in lodz["effects"]:
        e["n_treated"] = 111 if e["estimator"] == "matching" else ".."
        e["n_control"] = 304 if e["estimator"] == "matching" else 1875
    lodz["counts"]["n_mentored"] = 122  # 122 = trimmed + (111 + 7): trimmed is 4
    assert _feasible(lodz)["n_trimmed_treated"] == {4}
    with pytest.raises(DisclosureError, match=r"n_trimmed_treated is shown as '<5' but equals 4"):
        check_bundle(json.dumps(lodz), "lodz.json")
    # on arrival too (read_bundle is what the pooling run's check calls)
    path = tmp_path / "leaky.json"
    path.write_text(json.dumps(leaky), "utf-8")
    with pytest.raises(DisclosureError, match="leaky.json"):
        read_bundle(path)


# --- export's error paths -----------------------------------------------------------------


def test_export_price_year_out_of_range_is_one_message(finished_run, capsys):
    run, _ = finished_run
    assert main(["export", str(run.run_dir), "--price-year", "1850"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --price-year 1850: expected a year from 1900 to 2100")
    assert "Traceback" not in err and "validation error" not in err


def test_export_of_failed_or_missing_run_says_so(tmp_path, capsys):
    failed = tmp_path / "goteborg-20261129-061159-0f54e1b5-failed"
    failed.mkdir()
    (failed / "status.json").write_text(json.dumps(
        {"status": "failed", "stage": "03_effects", "message": "the matching found no controls"}
    ), "utf-8")  # fmt: skip
    assert main(["export", str(failed)]) == 4
    err = capsys.readouterr().err
    assert "this run failed at stage '03_effects' (status.json)" in err
    assert "the matching found no controls" in err and "rerun `evaluation run" in err
    assert "no results.json" not in err and "Traceback" not in err
    assert main(["export", str(tmp_path / "nothing-here")]) == 4
    err = capsys.readouterr().err
    assert "nothing-here: no such run folder" in err and "Traceback" not in err


def test_export_default_goes_to_bundles_beside_the_run(finished_run, tmp_path, capsys):
    run = _run_like(finished_run, tmp_path, GOTEBORG, GOTEBORG_N, "study-20261129-000000-abc")
    before = sorted(p.name for p in run.iterdir())
    assert main(["export", str(run)]) == 0
    # the parameter file of the session's run is study.yaml: the site key is 'study'
    target = tmp_path / "bundles" / "study.json"
    assert target.is_file() and f"Written: {target}" in capsys.readouterr().out
    assert sorted(p.name for p in run.iterdir()) == before  # nothing written into the run
    assert main(["export", str(run), "--out", str(run / "b.json")]) == 3
    assert "inside the run folder" in capsys.readouterr().err
    assert not (run / "b.json").exists()


def test_sites_module_has_help():
    done = subprocess.run([sys.executable, "-m", "evaluation.pooling.sites", "--help"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0 and "--spec" in done.stdout
    done = subprocess.run([sys.executable, "-m", "evaluation.pooling.sites", "--spec", "no.yaml"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 2 and "no.yaml: sites file not found" in done.stderr
    assert "Traceback" not in done.stderr


def test_sites_file_problems_are_named(tmp_path):
    from evaluation.errors import ParamsError
    from evaluation.pooling.sites import main as sites_main
    from evaluation.pooling.sites import read_spec

    bad = tmp_path / "sites.yaml"
    bad.write_text("sites:\n  a: {seed: 1, n_mentored: 2, n_comparison: 100, effect_size: 0.1}\n"
                   "  b: {seed: 2, n_mentored: 50, n_comparison: 100, effect_size: 0.1, "
                   "colour: red}\n", "utf-8")  # fmt: skip
    with pytest.raises(ParamsError) as exc:
        read_spec(bad)
    msg = str(exc.value)
    assert msg.startswith(f"{bad}: not a valid sites file (2 problem(s)):")
    assert "  - sites.a.n_mentored: Input should be greater than or equal to 5 (got 2)" in msg
    assert "  - sites.b.colour: unknown field" in msg
    assert "https://errors.pydantic.dev" not in msg
    assert sites_main(["--spec", str(bad)]) == 2


# --- a share's intervals: cut at +/-100 pp when drawn and in the tables ----------------------


def _share_outcome(y, se) -> PooledOutcome:
    y, se = np.asarray(y, float), np.asarray(se, float)
    keys = [f"s{i}" for i in range(len(y))]
    res = meta.meta_analysis(y, se**2, keys, tau2_method="paule_mandel", level=0.95)
    loo = meta.leave_one_out(y, se**2, keys, tau2_method="paule_mandel", level=0.95)
    sites = pd.DataFrame({"key": keys, "site": [f"Site {k}" for k in keys], "country": "SE",
                          "currency": "SEK", "price_year": 2019, "factor": 1.0, "estimate": y,
                          "se": se, "ci_low": y - 1.96 * se, "ci_high": y + 1.96 * se,
                          "n_treated": 50, "n_control": 500})  # fmt: skip
    return PooledOutcome("employed_m12", "share", sites, res, loo)


def test_forest_plot_cuts_a_share_at_100_pp_and_marks_it():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.collections import PathCollection

    from evaluation.pooling.figures import forest_plot

    po = _share_outcome([0.0, 0.4, 0.2], [0.1, 0.1, 0.05])  # the hand-worked example
    # t on 1 df: the prediction interval runs far beyond +/-100 pp
    assert po.result.prediction_low * 100 < -140 and po.result.prediction_high * 100 > 160
    fig = forest_plot(po, "EUR")
    ax = fig.axes[0]
    xs = np.concatenate([np.asarray(line.get_xdata(), float) for line in ax.get_lines()])
    assert xs.min() >= -100 - DRAW and xs.max() <= 100 + DRAW
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1
    np.testing.assert_allclose(sorted(dashed[0].get_xdata()), [-100, 100], atol=DRAW)
    ends = [tuple(np.round(o, 9)) for c in ax.collections if isinstance(c, PathCollection)
            for o in c.get_offsets()]  # fmt: skip
    y_pred = dashed[0].get_ydata()[0]
    assert (-100.0, y_pred) in ends and (100.0, y_pred) in ends  # arrowheads: it goes on
    left, right = ax.get_xlim()
    assert -105 - DRAW <= left and right <= 105 + DRAW
    # the sites' intervals (within +/-100) are drawn whole, unmarked
    site_lines = [line for line in ax.get_lines() if line.get_linestyle() == "-"
                  and line.get_color() == "#1b6ca8"]  # fmt: skip
    np.testing.assert_allclose(sorted(site_lines[0].get_xdata()), [-19.6, 19.6], atol=1e-6)
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_leave_one_out_of_a_share_is_cut_and_marked():
    po = _share_outcome([0.0, 0.4, 0.2], [0.1, 0.1, 0.05])
    wide = [lo for lo in po.leave_one_out if lo.ci_low < -1 or lo.ci_high > 1]
    assert wide  # two sites left: t on 1 df
    number = pooled_number(po)
    for lo, row in zip(po.leave_one_out, number["leave_one_out"], strict=True):
        cut = lo.ci_low < -1 or lo.ci_high > 1
        assert row["bounded"] is cut
        assert row["ci_low"] == max(lo.ci_low, -1.0) and row["ci_high"] == min(lo.ci_high, 1.0)
        assert (row["unbounded_low"], row["unbounded_high"]) == (lo.ci_low, lo.ci_high)
    table = leave_one_out_table(po)
    assert table["ci_low"].min() >= -1 and table["ci_high"].max() <= 1
    assert table["bounded"].sum() == len(wide)
    # months are not cut
    months = PooledOutcome("months_employed_12", "months", po.sites, po.result, po.leave_one_out)
    assert not any(r["bounded"] for r in pooled_number(months)["leave_one_out"])


def test_hartung_knapp_narrower_is_found_only_where_it_is():
    # far apart: Q large, the HK interval wider than the normal one everywhere
    po = _share_outcome([0.0, 0.4, 0.2], [0.1, 0.1, 0.05])
    assert hk_narrower(po) == []
    for lo in po.leave_one_out:
        keep = [k for k in po.sites["key"] if k != lo.left_out]
        sub = po.sites.set_index("key").loc[keep]
        res = meta.meta_analysis(sub["estimate"], sub["se"] ** 2, tau2_method="paule_mandel")
        assert res.random_hk.ci_high - res.random_hk.ci_low > res.random.ci_high - res.random.ci_low
    # nearly equal estimates: Q/(k-1) far below 1, so HK (t, k-1 df) is narrower with all
    # three sites (t_2 = 4.30, scale sqrt(Q/2) = 1e-3) and for each pair left (t_1 = 12.7,
    # scale sqrt(Q) <= 2e-3, against the normal 1.96)
    close = _share_outcome([0.10, 0.1001, 0.1003], [0.1, 0.1, 0.1])
    found = {(c["left_out"], c["site"]) for c in hk_narrower(close)}
    assert (None, None) in found and ("s0", "Site s0") in found
    assert ("s1", "Site s1") in found and ("s2", "Site s2") in found
