"""The synthetic default study: contract layout, determinism and a truth that holds."""

from __future__ import annotations

import re
import time

import numpy as np
import pandas as pd
import pytest

from evaluation import synth
from evaluation.synth import EffectSpec, file_digest, generate, write

SEED = 20170601
ATOL_TRUTH = 1e-9  # the truth recomputed from the potential panel: exact up to float sums
MAX_SECONDS_DEFAULT = 2.0  # default study (50 + 3 000 persons)
COMPARISON_M12 = (0.25, 0.30)  # comparison employment 12 months after start
MISSING_START = (0.05, 0.10)  # comparison persons with an empty start_month
MIN_SELECTION_BIAS = 0.05  # naive minus true ATT on employed_m12 in a large sample
NONRESPONSE = (0.02, 0.09)  # item non-response share among the items asked in a wave
MENTOR_MEETINGS_CORR = 0.15  # the 'met as often as needed' item rises with the meetings
REL = np.arange(-24, 37)

PARTICIPANT_COLUMNS = [
    "person_id",
    "group",
    "start_month",
    "end_month",
    "birth_year",
    "sex",
    "origin_region",
    "arrival_year",
    "education",
    "swedish_level",
    "municipality",
    "mentor_id",
]
MONTHLY_COLUMNS = ["person_id", "month", "employed", "earnings"]
SESSION_COLUMNS = ["person_id", "mentor_id", "date", "minutes"]
MENTOR_COLUMNS = ["mentor_id", "background", "same_field"]
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
PERSONNUMMER = re.compile(r"^(\d{2})?\d{6}[-+]?\d{4}$")


@pytest.fixture(scope="module")
def study() -> synth.SyntheticStudy:
    return generate(SEED)


@pytest.fixture(scope="module")
def null_study() -> synth.SyntheticStudy:
    return generate(SEED, effect=EffectSpec(null=True))


def _with_start(study: synth.SyntheticStudy) -> pd.DataFrame:
    """The potential panel with group, sex and the (hidden or recorded) start month."""
    pot = study.potential.copy()
    pot["person_id"] = pot["person_id"].astype(str)
    people = study.participants.set_index("person_id")[["group", "sex"]]
    return pot.join(people, on="person_id")


def _month_number(labels: pd.Series) -> np.ndarray:
    return (
        labels.str.slice(0, 4).astype(int) * 12 + labels.str.slice(5, 7).astype(int) - 1
    ).to_numpy()


# --- layout --------------------------------------------------------------------------


def test_participants_follow_the_contract(study):
    p = study.participants
    assert list(p.columns) == PARTICIPANT_COLUMNS
    assert p["person_id"].is_unique and p["person_id"].is_monotonic_increasing
    assert p["person_id"].str.fullmatch(r"P\d{6}").all()
    assert not p["person_id"].str.fullmatch(PERSONNUMMER.pattern).any()
    assert p["group"].value_counts().to_dict() == {"comparison": 3000, "mentored": 50}
    assert set(p["sex"]) == {"female", "male"}
    assert set(p["education"]) <= {"primary_or_less", "secondary", "post_secondary", "unknown"}
    assert set(p["swedish_level"]) <= {"none", "sfi_started", "sfi_completed", "fluent"}
    assert p["birth_year"].dtype.kind == "i" and p["arrival_year"].dtype.kind == "i"
    mentored = p["group"] == "mentored"
    assert p.loc[mentored, "start_month"].notna().all()
    assert p.loc[mentored, "end_month"].notna().all()
    assert p.loc[mentored, "mentor_id"].notna().all()
    assert p.loc[~mentored, ["end_month", "mentor_id"]].isna().all().all()
    starts = p["start_month"].dropna()
    assert starts.str.fullmatch(MONTH.pattern).all()
    assert starts.min() >= "2017-09" and starts.max() <= "2019-06"
    assert (p.loc[mentored, "end_month"] >= p.loc[mentored, "start_month"]).all()
    assert (p.loc[mentored, "end_month"] <= "2019-12").all()
    share_missing = p.loc[~mentored, "start_month"].isna().mean()
    assert MISSING_START[0] <= share_missing <= MISSING_START[1]
    start_year = pd.to_numeric(p["start_month"].str.slice(0, 4))
    age = start_year - p["birth_year"]
    assert age.dropna().between(20, 60).all()
    assert p["arrival_year"].between(2013, 2018).all()
    assert (p["arrival_year"] <= start_year.fillna(2019)).all()


def test_mentoring_tables_follow_the_contract(study):
    p, s, m = study.participants, study.sessions, study.mentors
    assert list(s.columns) == SESSION_COLUMNS
    assert list(m.columns) == MENTOR_COLUMNS
    assert m["mentor_id"].is_unique and m["mentor_id"].str.fullmatch(r"M\d{3}").all()
    assert 15 <= len(m) <= 20
    assert set(m["background"]) <= {"native", "migrant"}
    assert set(m["same_field"]) <= {0, 1}
    mentees = p["mentor_id"].value_counts()
    assert set(mentees.index) == set(m["mentor_id"])
    assert mentees.between(1, 5).all()
    mentored = p[p["group"] == "mentored"].set_index("person_id")
    assert set(s["person_id"]) == set(mentored.index)
    assert s["minutes"].dtype.kind == "i" and (s["minutes"] > 0).all()
    assert s.groupby("person_id").size().between(5, 25).all()
    assert s[["person_id", "date"]].duplicated().sum() == 0
    assert (s["mentor_id"].to_numpy() == mentored.loc[s["person_id"], "mentor_id"].to_numpy()).all()
    month = s["date"].str.slice(0, 7).to_numpy()
    assert (month >= mentored.loc[s["person_id"], "start_month"].to_numpy()).all()
    assert (month <= mentored.loc[s["person_id"], "end_month"].to_numpy()).all()
    pd.to_datetime(s["date"], format="%Y-%m-%d")  # valid calendar dates


def test_survey_follows_the_contract(study):
    sv = study.survey
    items = list(synth.SURVEY_ITEMS)
    assert list(sv.columns) == ["person_id", "wave", *items]
    assert not sv[["person_id", "wave"]].duplicated().any()
    mentored = set(study.participants.loc[study.participants["group"] == "mentored", "person_id"])
    assert set(sv["person_id"]) == mentored
    counts = sv["wave"].value_counts()
    assert counts["baseline"] == len(mentored)
    assert 0 < counts["follow_up"] < counts["baseline"]  # attrition
    answers = sv[items]
    assert set(np.unique(answers.stack().dropna().to_numpy())) <= {1, 2, 3, 4, 5}
    # the mentor-relationship items are asked at follow-up only
    follow_only = [i for i, v in synth.SURVEY_ITEMS.items() if v[0] in synth.FOLLOW_UP_ONLY]
    assert follow_only and sv.loc[sv["wave"] == "baseline", follow_only].isna().all().all()
    asked = pd.concat([sv.loc[sv["wave"] == "baseline", [i for i in items if i not in follow_only]]
                       .stack(future_stack=True),
                       sv.loc[sv["wave"] == "follow_up", items].stack(future_stack=True)])
    assert NONRESPONSE[0] <= asked.isna().mean() <= NONRESPONSE[1]


def test_survey_answers_come_from_the_latent_factors():
    """Large sample: items of a factor agree; the mentor relationship follows the meetings."""
    study = generate(SEED, n_mentored=3000, n_comparison=50)
    sv = study.survey
    base = sv.loc[sv["wave"] == "baseline"]
    corr = base[["goal_1", "goal_2", "network_1"]].astype(float).corr()
    assert corr.loc["goal_1", "goal_2"] > corr.loc["goal_1", "network_1"] + 0.2
    # reverse-coded items correlate negatively with their factor's other items
    assert base[["barrier_1", "barrier_2"]].astype(float).corr().iloc[0, 1] < 0
    follow = sv.loc[sv["wave"] == "follow_up"].set_index("person_id")
    meetings = study.sessions.groupby("person_id").size().reindex(follow.index)
    assert follow["mentor_2"].astype(float).corr(meetings.astype(float)) > MENTOR_MEETINGS_CORR
    # barriers differ in how often they are reported (threshold shifts), language most often
    reported = base[[f"barrier_{j}" for j in range(1, 6)]].astype(float)
    for item in ("barrier_2", "barrier_4"):
        reported[item] = 6 - reported[item]
    share = (reported >= 4).mean()
    assert share.idxmax() == "barrier_1" and share.idxmin() == "barrier_4"


def test_monthly_panel_covers_minus_24_to_36_around_every_start(study):
    mo = study.monthly
    assert list(mo.columns) == MONTHLY_COLUMNS
    assert len(mo) == len(study.participants) * len(REL)
    assert not mo[["person_id", "month"]].duplicated().any()
    assert set(mo["employed"].unique()) <= {0, 1}
    assert (mo["earnings"] >= 0).all()
    assert ((mo["earnings"] > 0) == (mo["employed"] == 1)).all()
    keys = pd.DataFrame({"p": mo["person_id"].astype(str), "m": mo["month"].astype(str)})
    assert keys.equals(keys.sort_values(["p", "m"]))  # sorted on the unique key
    # relative months from the recorded start, and contiguous 61 months for everybody
    pot = _with_start(study)
    start = pot["person_id"].map(study.participants.set_index("person_id")["start_month"])
    month_no = _month_number(pot["month"].astype(str))
    has = start.notna().to_numpy()
    rel = month_no[has] - _month_number(start[has])
    assert (rel == pot["rel_month"].to_numpy()[has]).all()
    per_person = pot["rel_month"].to_numpy().reshape(len(study.participants), len(REL))
    assert (per_person == REL[None, :]).all()  # rows are person-major, months ascending
    span = month_no.reshape(len(study.participants), len(REL))
    assert (np.diff(span, axis=1) == 1).all()  # 61 consecutive calendar months each
    employed_pay = mo.loc[mo["employed"] == 1, "earnings"]
    assert 12_000 <= employed_pay.median() <= 30_000


# --- determinism ---------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_other_data(tmp_path, study):
    first = write(study, tmp_path / "a")
    second = write(generate(SEED), tmp_path / "b")
    assert set(first) == {*synth.TABLES, "truth"}
    for name in first:
        assert file_digest(first[name]) == file_digest(second[name]), name
    other = write(generate(SEED + 1), tmp_path / "c")
    for name in ("participants", "monthly", "survey", "sessions"):
        assert file_digest(first[name]) != file_digest(other[name]), name
    back = pd.read_csv(first["participants"], dtype={"start_month": "str"})
    assert back["person_id"].tolist() == study.participants["person_id"].tolist()


def test_parquet_round_trip(tmp_path, study):
    paths = write(study, tmp_path, fmt="parquet")
    monthly = pd.read_parquet(paths["monthly"])
    assert len(monthly) == len(study.monthly)
    assert (monthly["employed"].to_numpy() == study.monthly["employed"].to_numpy()).all()
    assert (
        monthly["person_id"].astype(str).tolist()[:61] == [study.participants["person_id"][0]] * 61
    )


def test_mentored_sample_does_not_depend_on_the_comparison_size(study):
    small = generate(SEED, n_comparison=300)
    assert small.truth["att"] == study.truth["att"]
    assert small.truth["att_by_sex"] == study.truth["att_by_sex"]


def test_default_generation_is_fast():
    t0 = time.perf_counter()
    generate(SEED + 7)
    assert time.perf_counter() - t0 < MAX_SECONDS_DEFAULT


# --- potential outcomes and the truth ------------------------------------------------


def test_observed_is_y1_for_mentored_and_y0_for_comparison(study):
    pot, mo = study.potential, study.monthly
    assert (pot["person_id"].astype(str).to_numpy() == mo["person_id"].astype(str).to_numpy()).all()
    assert (pot["month"].astype(str).to_numpy() == mo["month"].astype(str).to_numpy()).all()
    group = _with_start(study)["group"].to_numpy()
    treated = group == "mentored"
    expect_emp = np.where(treated, pot["employed_1"], pot["employed_0"])
    expect_pay = np.where(treated, pot["earnings_1"], pot["earnings_0"])
    assert (mo["employed"].to_numpy() == expect_emp).all()
    assert (mo["earnings"].to_numpy() == expect_pay).all()


def test_common_random_numbers(study):
    pot = study.potential
    pre = pot["rel_month"] <= 0
    assert (pot.loc[pre, "employed_1"] == pot.loc[pre, "employed_0"]).all()
    assert (pot.loc[pre, "earnings_1"] == pot.loc[pre, "earnings_0"]).all()
    on = pot["rel_month"] >= EffectSpec().onset
    assert (pot.loc[on, "employed_1"] >= pot.loc[on, "employed_0"]).all()
    lock = (pot["rel_month"] >= 1) & ~on
    assert (pot.loc[lock, "employed_1"] <= pot.loc[lock, "employed_0"]).all()
    both = (pot["employed_1"] == 1) & (pot["employed_0"] == 1)
    assert (pot.loc[both, "earnings_1"] == pot.loc[both, "earnings_0"]).all()


def test_truth_recomputed_from_the_potential_panel(study):
    pot = _with_start(study)
    m = pot[pot["group"] == "mentored"]
    truth = study.truth
    for k in (6, 12, 24):
        at_k = m[m["rel_month"] == k]
        att = (at_k["employed_1"] - at_k["employed_0"]).mean()
        assert truth["att"][f"employed_m{k}"] == pytest.approx(att, abs=ATOL_TRUTH)
        window = m[(m["rel_month"] >= 1) & (m["rel_month"] <= k)]
        per_person = window.groupby("person_id")[
            ["employed_1", "employed_0", "earnings_1", "earnings_0"]
        ].sum()
        months = (per_person["employed_1"] - per_person["employed_0"]).mean()
        pay = (per_person["earnings_1"] - per_person["earnings_0"]).mean()
        assert truth["att"][f"months_employed_{k}"] == pytest.approx(months, abs=ATOL_TRUTH)
        assert truth["att"][f"earnings_{k}"] == pytest.approx(pay, rel=1e-12)
        for sex in ("female", "male"):
            sub = at_k[at_k["sex"] == sex]
            att_sex = (sub["employed_1"] - sub["employed_0"]).mean()
            assert truth["att_by_sex"][sex][f"employed_m{k}"] == pytest.approx(
                att_sex, abs=ATOL_TRUTH
            )
    for name in ("pre_employed_m12", "pre_months_employed_12", "pre_earnings_12"):
        assert truth["att"][name] == 0.0
    path = pd.DataFrame(truth["effect_path"]).set_index("rel_month")
    direct = (m["employed_1"] - m["employed_0"]).groupby(m["rel_month"]).mean()
    np.testing.assert_allclose(path["employed"].to_numpy(), direct.reindex(REL).to_numpy())
    assert list(path.index) == list(REL)


def test_effect_path_is_zero_before_start_and_follows_the_spec(study):
    path = pd.DataFrame(study.truth["effect_path"]).set_index("rel_month")
    assert (path.loc[:0, ["employed", "earnings", "expected"]] == 0).all().all()
    spec = EffectSpec()
    assert (path.loc[1 : spec.onset - 1, "expected"] < 0).all()
    assert (path.loc[1 : spec.onset - 1, "expected"] >= spec.lock_in - 1e-9).all()
    assert path.loc[spec.onset :, "expected"].between(0.05, 0.15).all()
    pop = study.truth["population"]
    assert pop["effect_women"] == pytest.approx(0.13)
    assert pop["effect_men"] == pytest.approx(0.07)


def test_comparison_employment_at_12_months(study):
    pot = _with_start(study)
    comp = pot[(pot["group"] == "comparison") & (pot["rel_month"] == 12)]
    rate = comp["employed_0"].mean()
    assert COMPARISON_M12[0] <= rate <= COMPARISON_M12[1]
    assert COMPARISON_M12[0] <= study.truth["comparison_employed_m12"] <= COMPARISON_M12[1]


def test_naive_difference_is_biased_by_selection():
    large = generate(SEED, n_mentored=2000, n_comparison=6000)
    truth = large.truth
    bias = truth["naive"]["employed_m12"] - truth["att"]["employed_m12"]
    assert bias == pytest.approx(truth["naive_bias"]["employed_m12"])
    assert bias > MIN_SELECTION_BIAS
    sel = truth["selection"]
    assert sel["post_secondary"]["mentored"] > sel["post_secondary"]["comparison"]
    assert sel["sfi_completed_or_fluent"]["mentored"] > sel["sfi_completed_or_fluent"]["comparison"]
    assert (
        sel["years_in_sweden_at_start"]["mentored"] < sel["years_in_sweden_at_start"]["comparison"]
    )
    # women's population effect is larger than men's, and it shows in a large sample
    assert (
        truth["att_by_sex"]["female"]["employed_m12"] > truth["att_by_sex"]["male"]["employed_m12"]
    )


def test_null_spec_has_zero_truth_and_the_same_selection(study, null_study):
    truth = null_study.truth
    assert all(v == 0.0 for v in truth["att"].values())
    for sex in ("female", "male"):
        assert all(v == 0.0 for v in truth["att_by_sex"][sex].values())
    assert all(
        d["employed"] == 0 and d["earnings"] == 0 and d["expected"] == 0
        for d in truth["effect_path"]
    )
    pot = null_study.potential
    assert (pot["employed_1"] == pot["employed_0"]).all()
    pd.testing.assert_frame_equal(null_study.participants, study.participants)
    comparison = (study.participants["group"] == "comparison").to_numpy().repeat(len(REL))
    assert (
        null_study.monthly["employed"].to_numpy()[comparison]
        == study.monthly["employed"].to_numpy()[comparison]
    ).all()
