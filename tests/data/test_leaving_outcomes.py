"""The ESF indicators as outcomes: employed a given number of months after leaving.

Hand-made frames with every month's status known, so that each value can be read off.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evaluation.data.outcomes import LEAVING_OUTCOMES, leaving_outcomes, months_to_leaving

MONTHS = [f"{y}-{m:02d}" for y in (2018, 2019) for m in range(1, 13)]


def _monthly(status: dict[str, list[int]]) -> pd.DataFrame:
    rows = [(pid, MONTHS[i], e) for pid, es in status.items() for i, e in enumerate(es)]
    frame = pd.DataFrame(rows, columns=["person_id", "month", "employed"])
    return frame.assign(earnings=frame["employed"] * 20000.0)


def test_months_to_leaving_counts_from_start_to_the_last_month_in_the_programme():
    persons = pd.DataFrame({
        "person_id": ["a", "b", "c", "d"],
        "start_month": ["2018-03", "2018-03", None, "2018-05"],
        "end_month": ["2018-08", None, "2018-09", "2018-05"],
    })  # fmt: skip
    np.testing.assert_array_equal(months_to_leaving(persons), [5.0, np.nan, np.nan, 0.0])
    # the column is optional in the contract: no end month, nobody has left
    assert np.isnan(months_to_leaving(persons.drop(columns="end_month"))).all()


def test_the_indicators_read_the_month_after_leaving_and_six_months_after():
    # a: start 2018-01, leaves after 4 months (last month 2018-05); employed only in 2018-06
    #    (upon leaving) and 2018-11 (six months after)
    # b: start 2018-02, leaves at once (last month 2018-02); employed from 2018-08 on
    status = {"a": [0] * 24, "b": [0] * 6 + [1] * 18}
    status["a"][5] = status["a"][10] = 1
    persons = pd.DataFrame({"person_id": ["a", "b"], "start_month": ["2018-01", "2018-02"]})
    got = leaving_outcomes(persons, _monthly(status), np.array([4.0, 0.0]))
    assert list(got.columns) == ["person_id", *LEAVING_OUTCOMES]
    assert got["employed_at_leaving"].tolist() == [1.0, 0.0]
    assert got["employed_after_leaving_m6"].tolist() == [1.0, 1.0]


def test_no_leaving_time_or_an_uncovered_month_gives_nan_never_zero():
    status = {"a": [1] * 24, "b": [1] * 24, "c": [1] * 24}
    persons = pd.DataFrame({"person_id": ["a", "b", "c"],
                            "start_month": ["2018-01", "2019-10", None]})  # fmt: skip
    got = leaving_outcomes(persons, _monthly(status), np.array([np.nan, 1.0, 2.0]))
    # a: no leaving time; b: 2019-11 covered, 2020-05 is not; c: no start
    assert np.isnan(got.loc[0, ["employed_at_leaving", "employed_after_leaving_m6"]]).all()
    assert got.loc[1, "employed_at_leaving"] == 1.0
    assert np.isnan(got.loc[1, "employed_after_leaving_m6"])
    assert got.loc[2, ["employed_at_leaving", "employed_after_leaving_m6"]].isna().all()


def test_the_caller_data_are_not_modified_and_rows_keep_their_order():
    status = {"b": [0] * 12 + [1] * 12, "a": [1] * 24}
    monthly = _monthly(status).sample(frac=1.0, random_state=1)  # any row order
    persons = pd.DataFrame({"person_id": ["b", "a"], "start_month": ["2018-01", "2018-01"]})
    before = monthly.copy()
    got = leaving_outcomes(persons, monthly, np.array([10.0, 10.0]), offsets={"x": 1})
    pd.testing.assert_frame_equal(monthly, before)
    assert got["person_id"].tolist() == ["b", "a"]
    assert got["x"].tolist() == [0.0, 1.0]  # b: 2018-12 (month 11) not yet employed
