"""Outcomes, pseudo starts and sample flow on tiny hand-built panels.

Every expected number below is worked out by hand from the panel definitions in the
fixtures (months relative to start in comments).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluation.calendar import month_index, month_label, quarter_label
from evaluation.data.outcomes import build_outcomes, panel_relative
from evaluation.design.pseudo_starts import assign_pseudo_starts
from evaluation.design.sample import build_analysis

ATOL = 1e-12  # outcomes are sums of integers: exact up to float representation
SHARE_TOL = 0.03  # pseudo-start month shares vs the empirical mentored distribution
SEED = 20170601


def _months(first: str, last: str) -> list[str]:
    return list(pd.period_range(first, last, freq="M").strftime("%Y-%m"))


def _shift(month: str, k: int) -> str:
    return (pd.Period(month, freq="M") + k).strftime("%Y-%m")


def _person(pid: str, start: str, rel_range: range, jobs: dict[int, float]) -> pd.DataFrame:
    """Rows for rel months in ``rel_range``; ``jobs`` maps rel month -> earnings."""
    rel = list(rel_range)
    return pd.DataFrame(
        {
            "person_id": pid,
            "month": [_shift(start, r) for r in rel],
            "employed": [int(r in jobs) for r in rel],
            "earnings": [jobs.get(r, 0.0) for r in rel],
        }
    )


@pytest.fixture
def participants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person_id": ["A", "B", "C", "D"],
            "group": ["mentored", "comparison", "comparison", "comparison"],
            "start_month": ["2018-03", "2018-01", "2018-06", None],
            "birth_year": [1985, 1990, 1975, 1980],
            "sex": ["female", "male", "female", "male"],
            "arrival_year": [2015, 2016, 2014, 2016],
        }
    ).astype({"person_id": "str", "group": "str", "start_month": "str", "sex": "str"})


@pytest.fixture
def monthly() -> pd.DataFrame:
    # A: covered rel -14..15; employed at -12, -5, -4, -1 (pre) and 3, 4, 5, 6, 10 (post);
    #    10 000 SEK per employed month except 12 000 at rel 6.
    a = _person(
        "A",
        "2018-03",
        range(-14, 16),
        {-12: 1e4, -5: 1e4, -4: 1e4, -1: 1e4, 3: 1e4, 4: 1e4, 5: 1e4, 6: 12e3, 10: 1e4},
    )
    # B: covered rel -12..8 and 10..30 (gap at 9); employed only at -3 (9 000 SEK).
    b = pd.concat(
        [
            _person("B", "2018-01", range(-12, 9), {-3: 9e3}),
            _person("B", "2018-01", range(10, 31), {}),
        ]
    )
    # C: covered rel -6..12 only; employed from rel 2 on, 20 000 SEK.
    c = _person("C", "2018-06", range(-6, 13), {r: 2e4 for r in range(2, 13)})
    # D: no start month; covered 2017-01..2019-12, never employed.
    months_d = _months("2017-01", "2019-12")
    d = pd.DataFrame({"person_id": "D", "month": months_d, "employed": 0, "earnings": 0.0})
    out = pd.concat([a, b, c, d], ignore_index=True)
    return out.astype({"person_id": "str", "month": "str", "employed": "int8"})


# --- months --------------------------------------------------------------------------


def test_month_index_is_year_times_12_plus_month_minus_1():
    s = pd.Series(["2018-03", None, "2015-12", "2018-03"], dtype="str")
    out = month_index(s)
    assert out.dtype == "Int32"
    assert out.tolist()[0] == 2018 * 12 + 2
    assert out.isna().tolist() == [False, True, False, False]
    assert out.iloc[2] == 2015 * 12 + 11
    assert list(month_label(out.fillna(-1).to_numpy())) == ["2018-03", None, "2015-12", "2018-03"]
    assert list(quarter_label([2018 * 12 + 3, 2018 * 12 + 11])) == ["2018Q2", "2018Q4"]


def test_month_index_accepts_categoricals_and_refuses_bad_labels():
    cat = pd.Series(pd.Categorical(["2019-01", "2017-09", "2019-01"]))
    assert month_index(cat).tolist() == [2019 * 12, 2017 * 12 + 8, 2019 * 12]
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_index(pd.Series(["2018-13"]))
    with pytest.raises(ValueError, match="YYYY-MM"):
        month_index(pd.Series(["2018-3"]))


# --- outcomes ------------------------------------------------------------------------


def test_outcomes_of_a_fully_observed_person(participants, monthly):
    out = build_outcomes(participants, monthly).set_index("person_id")
    a = out.loc["A"]
    assert a["start_month"] == "2018-03"
    assert a["start_quarter"] == "2018Q1"
    assert a["months_before"] == 14
    assert a["months_after"] == 15
    assert a["employed_m6"] == 1
    assert a["months_employed_6"] == 4  # rel 3, 4, 5, 6
    assert a["earnings_6"] == pytest.approx(42_000, abs=ATOL)
    assert a["employed_m12"] == 0
    assert a["months_employed_12"] == 5  # + rel 10
    assert a["earnings_12"] == pytest.approx(52_000, abs=ATOL)
    assert np.isnan(a["employed_m24"])  # rel 24 not covered: NaN, not 0
    assert np.isnan(a["months_employed_24"])
    assert np.isnan(a["earnings_24"])
    assert a["months_to_job"] == 3
    assert a["job_found"] == 1
    assert a["pre_employed_m12"] == 1
    assert a["pre_employed_m1"] == 1
    assert a["pre_months_employed_12"] == 4  # rel -12, -5, -4, -1
    assert a["pre_earnings_12"] == pytest.approx(40_000, abs=ATOL)


def test_gaps_censoring_and_uncovered_windows(participants, monthly):
    out = build_outcomes(participants, monthly).set_index("person_id")
    b = out.loc["B"]
    assert b["months_after"] == 8  # contiguous until the gap at rel 9
    assert b["months_before"] == 12
    assert b["employed_m6"] == 0
    assert b["months_employed_6"] == 0
    assert b["earnings_6"] == 0
    assert b["employed_m12"] == 0  # month 12 itself is covered
    assert np.isnan(b["months_employed_12"])  # window 1..12 has a gap
    assert np.isnan(b["earnings_12"])
    assert b["employed_m24"] == 0
    assert np.isnan(b["months_employed_24"])
    assert b["months_to_job"] == 8  # censored at the last contiguously covered month
    assert b["job_found"] == 0
    assert b["pre_employed_m12"] == 0
    assert b["pre_employed_m1"] == 0
    assert b["pre_months_employed_12"] == 1
    assert b["pre_earnings_12"] == pytest.approx(9_000, abs=ATOL)

    c = out.loc["C"]
    assert c["months_before"] == 6
    assert c["months_after"] == 12
    assert np.isnan(c["pre_employed_m12"])
    assert np.isnan(c["pre_months_employed_12"])  # only 6 months before start
    assert np.isnan(c["pre_earnings_12"])
    assert c["pre_employed_m1"] == 0
    assert c["months_to_job"] == 2
    assert c["months_employed_12"] == 11
    assert c["earnings_12"] == pytest.approx(220_000, abs=ATOL)

    d = out.loc["D"]  # no start month: everything missing
    assert pd.isna(d["start_month"]) and pd.isna(d["months_after"])
    assert d.drop(["start_month", "start_quarter", "months_before", "months_after"]).isna().all()


def test_outcomes_do_not_depend_on_row_order_or_key_dtypes(participants, monthly):
    expected = build_outcomes(participants, monthly)
    shuffled = monthly.sample(frac=1.0, random_state=3).reset_index(drop=True)
    shuffled["person_id"] = shuffled["person_id"].astype("category")
    shuffled["month"] = shuffled["month"].astype("category")
    pd.testing.assert_frame_equal(build_outcomes(participants, shuffled), expected)


def test_outcomes_refuse_duplicate_person_months(participants, monthly):
    doubled = pd.concat([monthly, monthly.iloc[[5]]], ignore_index=True)
    with pytest.raises(ValueError, match="more than one row"):
        build_outcomes(participants, doubled)


def test_outcomes_leave_inputs_unchanged(participants, monthly):
    p0, m0 = participants.copy(), monthly.copy()
    build_outcomes(participants, monthly)
    build_analysis(participants, monthly, rng=SEED)
    pd.testing.assert_frame_equal(participants, p0)
    pd.testing.assert_frame_equal(monthly, m0)


def test_custom_horizons_and_pre_period(participants, monthly):
    out = build_outcomes(participants, monthly, horizons=(3,), pre_months=5).set_index("person_id")
    assert {"employed_m3", "months_employed_3", "pre_employed_m5"} <= set(out.columns)
    assert out.loc["A", "months_employed_3"] == 1
    assert out.loc["A", "pre_months_employed_5"] == 3  # rel -5, -4, -1
    assert out.loc["A", "pre_employed_m5"] == 1


# --- pseudo starts -------------------------------------------------------------------


def _pool() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mentored start 3 x 2018-03 and 1 x 2018-09; comparison F, G, H without start."""
    participants = pd.DataFrame(
        {
            "person_id": ["M1", "M2", "M3", "M4", "F", "G", "H", "K"],
            "group": ["mentored"] * 4 + ["comparison"] * 4,
            "start_month": [
                "2018-03",
                "2018-03",
                "2018-03",
                "2018-09",
                None,
                None,
                None,
                "2018-05",
            ],
        }
    ).astype("str")
    rows = [
        ("F", _months("2016-06", "2018-12")),  # full window (-12..+6) only around 2018-03
        ("G", _months("2018-08", "2020-12")),  # no full window; covered at 2018-09 only
        ("H", _months("2010-01", "2010-12")),  # covered at no mentored start month
        ("K", _months("2016-01", "2020-12")),
    ]
    monthly = pd.concat(
        [
            pd.DataFrame({"person_id": pid, "month": m, "employed": 0, "earnings": 0})
            for pid, m in rows
        ],
        ignore_index=True,
    )
    return participants, monthly


def test_pseudo_starts_follow_the_documented_preferences():
    participants, monthly = _pool()
    before = participants.copy()
    for seed in range(5):
        out, n = assign_pseudo_starts(
            participants, np.random.default_rng(seed), monthly=monthly, pre_months=12, post_months=6
        )
        starts = out.set_index("person_id")["start_month"]
        assert n == 2
        assert starts["F"] == "2018-03"  # preference 1: the only fully covered window
        assert starts["G"] == "2018-09"  # preference 2: the only covered start month
        assert pd.isna(starts["H"])  # preference 3: none possible
        assert starts["K"] == "2018-05"  # had a start: unchanged
        assert starts[["M1", "M2", "M3", "M4"]].tolist() == ["2018-03"] * 3 + ["2018-09"]
        assert out.set_index("person_id")["pseudo_start"].to_dict() == {
            "M1": 0,
            "M2": 0,
            "M3": 0,
            "M4": 0,
            "F": 1,
            "G": 1,
            "H": 0,
            "K": 0,
        }
    pd.testing.assert_frame_equal(participants, before)


def test_pseudo_starts_draw_from_the_mentored_distribution_seeded_and_order_free():
    n = 4000
    participants = pd.DataFrame(
        {
            "person_id": [f"M{i}" for i in range(4)] + [f"C{i:05d}" for i in range(n)],
            "group": ["mentored"] * 4 + ["comparison"] * n,
            "start_month": ["2018-03"] * 3 + ["2018-09"] + [None] * n,
        }
    ).astype("str")
    out, assigned = assign_pseudo_starts(participants, np.random.default_rng(SEED))
    assert assigned == n
    shares = out.loc[out["group"] == "comparison", "start_month"].value_counts(normalize=True)
    assert shares["2018-03"] == pytest.approx(0.75, abs=SHARE_TOL)
    assert shares["2018-09"] == pytest.approx(0.25, abs=SHARE_TOL)
    again, _ = assign_pseudo_starts(participants, np.random.default_rng(SEED))
    pd.testing.assert_frame_equal(out, again)
    reordered = participants.iloc[::-1].reset_index(drop=True)
    out_r, _ = assign_pseudo_starts(reordered, np.random.default_rng(SEED))
    pd.testing.assert_series_equal(
        out_r.set_index("person_id")["start_month"].sort_index(),
        out.set_index("person_id")["start_month"].sort_index(),
    )
    other, _ = assign_pseudo_starts(participants, np.random.default_rng(SEED + 1))
    assert not other["start_month"].equals(out["start_month"])


# --- analysis data and sample flow ---------------------------------------------------


def test_build_analysis_accounts_for_everybody(participants, monthly):
    extra = pd.DataFrame(
        {
            "person_id": ["E", "H"],
            "group": ["comparison", "comparison"],
            "start_month": ["2018-02", None],
            "birth_year": [1970, 1995],
            "sex": ["male", "female"],
            "arrival_year": [2013, 2017],
        }
    ).astype({"person_id": "str", "group": "str", "start_month": "str", "sex": "str"})
    parts = pd.concat([participants, extra], ignore_index=True)
    h_rows = pd.DataFrame(
        {"person_id": "H", "month": _months("2010-01", "2010-06"), "employed": 0, "earnings": 0.0}
    ).astype({"person_id": "str", "month": "str", "employed": "int8"})
    panel = pd.concat([monthly, h_rows], ignore_index=True)

    data = build_analysis(parts, panel, rng=np.random.default_rng(SEED))
    flow = data.flow.set_index("step")
    assert flow.loc["persons in participants", ["mentored", "comparison"]].tolist() == [1, 5]
    assert flow.loc["pseudo start assigned", "comparison"] == 1  # D (H is not coverable)
    assert flow.loc["excluded: no start month and no pseudo start possible", "comparison"] == 1
    assert flow.loc["excluded: no monthly records", "comparison"] == 1  # E
    assert flow.loc["excluded: fewer than 12 months of coverage before start", "comparison"] == 1
    assert flow.loc["analysed", ["mentored", "comparison"]].tolist() == [1, 2]  # A; B, D
    for col in ("mentored", "comparison", "total"):
        counted = data.flow.loc[data.flow["kind"].isin(["excluded", "analysed"]), col].sum()
        assert counted == flow.loc["persons in participants", col]
    assert data.n_pseudo_starts == 1
    assert sorted(data.frame["person_id"]) == ["A", "B", "D"]
    assert dict(zip(data.excluded["person_id"], data.excluded["reason"], strict=True)) == {
        "C": "excluded: fewer than 12 months of coverage before start",
        "E": "excluded: no monthly records",
        "H": "excluded: no start month and no pseudo start possible",
    }
    frame = data.frame.set_index("person_id")
    assert frame["treated"].to_dict() == {"A": 1, "B": 0, "D": 0}
    assert frame.loc["A", "age"] == 2018 - 1985
    assert frame.loc["B", "years_in_sweden"] == 2018 - 2016
    assert frame.loc["D", "pseudo_start"] == 1
    assert frame.loc["D", "start_month"] == "2018-03"  # the only mentored start month
    # short coverage: A ends at rel 15 (short at 24); B's contiguous coverage ends at 8;
    # D (2018-03, covered to 2019-12) has 21 months after start
    short = data.short_coverage
    assert short.loc[6].tolist() == [0, 0, 0]
    assert short.loc[12].tolist() == [0, 1, 1]
    assert short.loc[24].tolist() == [1, 2, 3]


def test_panel_relative_counts_months_from_start(participants, monthly):
    panel = panel_relative(participants, monthly)
    assert set(panel["person_id"]) == {"A", "B", "C"}  # D has no start month
    a = panel[panel["person_id"] == "A"]
    assert a["rel_month"].min() == -14 and a["rel_month"].max() == 15
    assert a.loc[a["month"] == "2018-03", "rel_month"].item() == 0
    assert set(panel.loc[panel["person_id"] == "A", "treated"]) == {1}
    assert panel["rel_month"].dtype == np.int16


def test_outcomes_of_persons_without_any_monthly_row_are_missing(participants, monthly):
    """No row of any person (e.g. an extract of other persons): missing outcomes, no error."""
    others = monthly.assign(person_id="Z")
    out = build_outcomes(participants, others, (6, 12), 12)
    assert out["months_employed_6"].isna().all() and out["earnings_12"].isna().all()
    assert out["months_before"].fillna(0).eq(0).all()
