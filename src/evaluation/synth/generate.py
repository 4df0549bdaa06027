"""Generate the synthetic study: draw every component from its own seeded stream, then the truth."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from evaluation.data.outcomes import COMPARISON, DEFAULT_HORIZONS, DEFAULT_PRE_MONTHS, MENTORED
from evaluation.synth.labour import Panel, draw_panel, panel_tables
from evaluation.synth.mentoring import draw_mentoring, sessions_table
from evaluation.synth.persons import draw_people, participants_table, place
from evaluation.synth.spec import TABLES, EffectSpec, LabourMarket, SiteSpec
from evaluation.synth.survey import survey_table
from evaluation.synth.truth import compute_truth


@dataclass(frozen=True)
class SyntheticStudy:
    """A generated study: the contract tables, the potential outcomes and the truth.

    Attributes
    ----------
    participants, monthly, survey, sessions, mentors
        The five contract tables (CONTRACT.md), sorted on their unique keys. In
        ``monthly`` (and ``potential``) ``person_id`` and ``month`` are categoricals of
        text, to keep tens of millions of rows small.
    potential
        Every person-month with ``rel_month`` and both potential outcomes
        ``employed_0``, ``employed_1``, ``earnings_0``, ``earnings_1``. Observed data are
        the ``_1`` columns for the mentored and the ``_0`` columns for the comparison.
    truth
        The true effects and the settings (see :func:`generate`); JSON-serialisable.
    """

    participants: pd.DataFrame
    monthly: pd.DataFrame
    survey: pd.DataFrame
    sessions: pd.DataFrame
    mentors: pd.DataFrame
    potential: pd.DataFrame
    truth: dict[str, Any] = field(repr=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The five contract tables by name."""
        return {name: getattr(self, name) for name in TABLES}


# --- generation ------------------------------------------------------------------------


def generate(
    seed: int,
    *,
    n_mentored: int = 50,
    n_comparison: int = 3000,
    effect: EffectSpec = EffectSpec(),  # noqa: B008 - frozen, immutable default
    site: SiteSpec = SiteSpec(),  # noqa: B008 - frozen, immutable default
    horizons: tuple[int, ...] = DEFAULT_HORIZONS,
    pre_months: int = DEFAULT_PRE_MONTHS,
    market: LabourMarket | None = None,
) -> SyntheticStudy:
    """Generate the synthetic default study.

    Parameters
    ----------
    seed
        Non-negative integer; the same seed gives the same study, byte for byte.
    n_mentored, n_comparison
        Number of mentored persons and of comparison persons.
    effect
        The true effect (:class:`EffectSpec`; ``EffectSpec(null=True)`` for none).
    site
        Region, calendar and coverage (:class:`SiteSpec`).
    horizons, pre_months
        Outcome definitions used for the truth (passed to ``build_outcomes``).
    market
        A partner site's labour market (:class:`LabourMarket`); ``None`` for the default
        study's (then nothing is drawn differently).

    Returns
    -------
    SyntheticStudy
        Tables, potential outcomes and ``truth``. ``truth`` holds the exact ATT of every
        outcome of :func:`~evaluation.data.outcomes.build_outcomes` (overall and by sex),
        the realised and the expected monthly effect path, the population effect
        parameters, the naive mentored-minus-comparison difference on the observed data
        and its bias, comparison employment at 12 months, and the seed and version.
    """
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    if n_mentored < 1 or n_comparison < 1:
        raise ValueError("n_mentored and n_comparison must be at least 1")
    streams = dict(
        zip(
            ("mentored", "comparison", "ids", "mentors", "sessions", "survey"),
            np.random.SeedSequence(int(seed)).spawn(6),
            strict=True,
        )
    )
    rng = {name: np.random.default_rng(ss) for name, ss in streams.items()}
    n = n_mentored + n_comparison
    # person k (mentored first, then comparison) gets identifier number rank[k] + 1 and
    # sits at row rank[k] of every person-sorted table
    rank = rng["ids"].permutation(n)
    rows_m, rows_c = rank[:n_mentored], rank[n_mentored:]

    people_m = draw_people(rng["mentored"], n_mentored, MENTORED, site)
    people_c = draw_people(rng["comparison"], n_comparison, COMPARISON, site)
    people = {k: place(people_m[k], people_c[k], rows_m, rows_c) for k in people_m}
    treated = np.zeros(n, dtype=bool)
    treated[rows_m] = True

    panel = Panel.allocate(n, len(site.rel_months))
    expected_m = draw_panel(rng["mentored"], people_m, rows_m, panel, effect, site, market)
    draw_panel(rng["comparison"], people_c, rows_c, panel, effect, site, market)

    width = max(6, len(str(n)))
    numbers = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width)
    person_ids = ("P" + numbers).to_numpy(dtype=object)
    mentoring = draw_mentoring(rng["mentors"], rng["sessions"], people, treated, site)
    participants = participants_table(person_ids, people, treated, mentoring, site)
    monthly, potential = panel_tables(person_ids, people["start"], treated, panel, site)
    sessions = sessions_table(person_ids, mentoring, rng["sessions"])
    survey = survey_table(person_ids, people, treated, mentoring, rng["survey"])

    truth = compute_truth(
        seed=int(seed),
        participants=participants,
        monthly=monthly,
        panel=panel,
        treated=treated,
        people=people,
        expected_m=expected_m,
        rows_m=rows_m,
        effect=effect,
        site=site,
        horizons=tuple(horizons),
        pre_months=int(pre_months),
    )
    if market is not None:
        truth["labour_market"] = asdict(market)
    return SyntheticStudy(
        participants=participants,
        monthly=monthly,
        survey=survey,
        sessions=sessions,
        mentors=mentoring["mentors"],
        potential=potential,
        truth=truth,
    )
