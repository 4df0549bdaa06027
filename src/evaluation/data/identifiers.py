"""The identifiers a run must never publish: the input tables' person and mentor ids.

The privacy scan of a run folder (:mod:`evaluation.disclosure.privacy`) and of a site bundle
looks for them in every published file.
"""

from __future__ import annotations

from typing import Any

from evaluation.config import AnyParams, Params
from evaluation.data.io import read_table


def identifiers(params: AnyParams, study: Any) -> tuple[Any, list[str]]:
    """The person and mentor identifiers the privacy scan looks for in the run folder.

    When the inputs were not validated in this run (validated by the same code before), only
    the participants and mentors tables are read: the large monthly table is not needed.
    """
    if not isinstance(params, Params):
        return None, []
    if study is not None:
        return study.participants[["person_id"]], _mentor_ids(study)
    sources = params.data.sources()
    participants = read_table(sources["participants"], table="participants")
    participants = participants.assign(person_id=participants["person_id"].astype(str))
    ids = participants["mentor_id"].dropna().astype(str).tolist() if (
        "mentor_id" in participants) else []  # fmt: skip
    if sources["mentors"] is not None:
        mentors = read_table(sources["mentors"], table="mentors")
        ids += mentors["mentor_id"].dropna().astype(str).tolist()
    return participants[["person_id"]], sorted(set(ids))


def _mentor_ids(study: Any) -> list[str]:
    ids: list[str] = []
    if "mentor_id" in study.participants:
        ids += study.participants["mentor_id"].dropna().astype(str).tolist()
    if study.mentors is not None:
        ids += study.mentors["mentor_id"].dropna().astype(str).tolist()
    return sorted(set(ids))
