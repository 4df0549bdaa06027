"""The participants' survey: baseline and follow-up Likert answers from the latent factors."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from evaluation.synth.spec import FACTORS, FOLLOW_UP_ONLY, MENTORING, SURVEY, SURVEY_ITEMS


def survey_table(
    person_ids: np.ndarray,
    people: Mapping[str, np.ndarray],
    treated: np.ndarray,
    mentoring: Mapping[str, Any],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Baseline and follow-up Likert answers of the mentored, from the latent factors.

    The four baseline factors are the persons' latent ``factors`` (the network factor also
    drives the effect); the mentor relationship, asked at follow-up only, rises with the
    number of meetings, a mentor from the same field and the baseline network.
    """
    rows = np.flatnonzero(treated)
    n = len(rows)
    baseline = people["factors"][rows]
    change = np.array([SURVEY["follow_up_change"][f] for f in FACTORS])
    follow = baseline + change + SURVEY["follow_up_noise_sd"] * rng.standard_normal((n, 4))
    attrition = special.expit(
        SURVEY["attrition_intercept"] + SURVEY["attrition_efficacy"] * baseline[:, 3]
    )
    stays = rng.random(n) >= attrition
    lo, hi = MENTORING["meetings"]
    meetings = mentoring["meetings"].astype(np.float64)
    z_meet = (meetings - (lo + hi) / 2) / math.sqrt(((hi - lo + 1) ** 2 - 1) / 12)
    same_field = (
        mentoring["mentors"]
        .set_index("mentor_id")["same_field"]
        .reindex(mentoring["mentor_id"])
        .to_numpy(dtype=np.float64)
    )
    relation = (
        SURVEY["mentor_meetings"] * z_meet
        + SURVEY["mentor_same_field"] * (same_field - MENTORING["mentor_same_field_share"])
        + SURVEY["mentor_network"] * baseline[:, FACTORS.index("network")]
        + SURVEY["mentor_noise_sd"] * rng.standard_normal(n)
    )
    cuts = np.asarray(SURVEY["cuts"])
    frames = []
    for wave, scores, keep in (
        ("baseline", baseline, np.ones(n, bool)),
        ("follow_up", follow, stays),
    ):
        items = {}
        for name, (factor, reverse, loading, shift, nonresp) in SURVEY_ITEMS.items():  # items
            if factor in FOLLOW_UP_ONLY and wave == "baseline":
                items[name] = pd.array([None] * int(keep.sum()), dtype="Int8")
                continue
            level = relation if factor == "mentor" else scores[:, FACTORS.index(factor)]
            latent = loading * level + math.sqrt(1 - loading**2) * rng.standard_normal(n)
            answer = 1 + (latent[:, None] > (cuts + shift)[None, :]).sum(axis=1)
            if reverse:
                answer = 6 - answer
            missing = rng.random(n) < nonresp
            items[name] = pd.array(np.where(missing, None, answer)[keep], dtype="Int8")
        frames.append(
            pd.DataFrame(
                {
                    "person_id": pd.array(person_ids[rows][keep], dtype="str"),
                    "wave": pd.array([wave] * int(keep.sum()), dtype="str"),
                    **items,
                }
            )
        )
    survey = pd.concat(frames, ignore_index=True)
    return survey.sort_values(["person_id", "wave"], kind="stable").reset_index(drop=True)
