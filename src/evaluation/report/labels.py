"""Figure labels in the report's languages (figures are drawn in the notebooks)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "mentored": "mentored",
        "comparison": "comparison",
        "share_of_group": "Share of the group",
        "pre_months_employed": "Months employed in the 12 months before start",
        "pscore_logit": "Propensity score (logit scale)",
        "smd": "Standardised mean difference (SD of the mentored)",
        "before": "Before",
        "after_matching": "After matching",
        "effect_ci": "Effect: {outcome} (95 % CI)",
        "range": "{a} to {b}",
        "est_naive": "Naive difference",
        "est_regression": "Regression (OLS)",
        "est_ra": "Regression adjustment",
        "est_ipw": "Inverse-probability weighting",
        "est_aipw": "Doubly robust (AIPW)",
        "est_matching": "Propensity-score matching",
        "alt_pre_employment": "Bar chart: share of mentored and of comparison persons by months "
        "employed in the year before start (0, 1-3, 4-6, 7-9, 10-12); bins resting on fewer "
        "persons than the disclosure threshold are left empty and marked.",
        "alt_overlap": "Bar chart of the share of mentored and of comparison persons in eight "
        "bins of the logit of the propensity score; bins with fewer persons than the disclosure "
        "threshold are left empty and marked.",
        "alt_love_plot": "Dot plot of the standardised mean difference of each covariate before "
        "and after matching, with dashed lines at plus and minus 0.1.",
        "alt_effects_forest": "Point estimates and 95 % confidence intervals of the effect on the "
        "headline outcome for each estimator, the naive difference first.",
        "pool_fixed": "Fixed effect",
        "pool_random_hk": "Random effects (HK)",
        "pool_prediction": "Prediction interval",
        "pool_axis": "Effect on {outcome} ({unit}; {pct} % intervals)",
        "pool_unit_share": "percentage points",
        "pool_unit_months": "months",
        "alt_pool_forest": "Forest plot of {outcome}: each site's estimate with its confidence "
        "interval, marker size by random-effects weight, and below them the fixed-effect and "
        "random-effects (Hartung-Knapp) pooled estimates with their intervals and the "
        "prediction interval for a new site.",
    },
    "sv": {
        "mentored": "mentorsdeltagare",
        "comparison": "jämförelsegrupp",
        "share_of_group": "Andel av gruppen",
        "pre_months_employed": "Månader i arbete de 12 månaderna före start",
        "pscore_logit": "Benägenhetspoäng (logitskala)",
        "smd": "Standardiserad medelvärdesskillnad (SD bland mentorsdeltagarna)",
        "before": "Före",
        "after_matching": "Efter matchning",
        "effect_ci": "Effekt: {outcome} (95 % KI)",
        "range": "{a} till {b}",
        "est_naive": "Naiv skillnad",
        "est_regression": "Regression (OLS)",
        "est_ra": "Regressionsjustering",
        "est_ipw": "Viktning med invers sannolikhet",
        "est_aipw": "Dubbelt robust (AIPW)",
        "est_matching": "Matchning på benägenhetspoäng",
        "alt_pre_employment": "Stapeldiagram: andel av mentorsdeltagarna och av "
        "jämförelsegruppen efter antal månader i arbete året före start (0, 1-3, 4-6, 7-9, "
        "10-12); staplar som bygger på färre personer än röjandegränsen lämnas tomma och märks.",
        "alt_overlap": "Stapeldiagram över andelen mentorsdeltagare och jämförelsepersoner i "
        "åtta intervall av benägenhetspoängens logit; intervall med färre personer än "
        "röjandegränsen lämnas tomma och märks.",
        "alt_love_plot": "Punktdiagram över den standardiserade medelvärdesskillnaden för varje "
        "kovariat före och efter matchning, med streckade linjer vid plus och minus 0,1.",
        "alt_effects_forest": "Punktskattningar och 95 % konfidensintervall för effekten på "
        "huvudutfallet för varje skattningsmetod, den naiva skillnaden först.",
        "pool_fixed": "Fix effekt",
        "pool_random_hk": "Slumpeffekter (HK)",
        "pool_prediction": "Prediktionsintervall",
        "pool_axis": "Effekt på {outcome} ({unit}; {pct} % intervall)",
        "pool_unit_share": "procentenheter",
        "pool_unit_months": "månader",
        "alt_pool_forest": "Skogsdiagram för {outcome}: varje orts skattning med sitt "
        "konfidensintervall, markörens storlek efter vikten i slumpeffektmodellen, och under "
        "dem de sammanvägda skattningarna med fix effekt och slumpeffekter (Hartung-Knapp) med "
        "sina intervall samt prediktionsintervallet för en ny ort.",
    },
}


def labels(language: str) -> dict[str, str]:
    """The figure labels of one language (``en`` or ``sv``)."""
    return LABELS[language]


def number(value: float, language: str, decimals: int = 1) -> str:
    """A number on a figure in the report's format (``-0.5`` / ``−0,5``)."""
    from evaluation.report.render import fmt_number

    return fmt_number(value, language, decimals)


def outcome_label(outcome: str, language: str) -> str:
    """An outcome's name in the report's language, as the report writes it.

    ``employed_m12`` becomes ``employed 12 months after start`` (en) or ``i arbete 12
    månader efter start`` (sv).
    """
    from pathlib import Path

    from evaluation.report.render import Numbers

    results = {"numbers": {}, "tables": {}, "effects": [], "exhibits": []}
    return Numbers(results, language, Path(".")).outcome_label(outcome)


def term_label(term: str, language: str) -> str:
    """A design term as the report's tables write it.

    ``education=post_secondary`` becomes ``education: post-secondary`` (en) or
    ``utbildning: eftergymnasial`` (sv).
    """
    from pathlib import Path

    from evaluation.report.render import Numbers

    results = {"numbers": {}, "tables": {}, "effects": [], "exhibits": []}
    return Numbers(results, language, Path(".")).cell(term.replace("=", ": "))


def localise_axes(fig, language: str) -> None:
    """Number ticks of a figure's axes in the report's number format.

    Swedish gets a decimal comma (``0,5``) and a true minus sign; axes whose ticks carry
    their own text (categories) are left alone. English is unchanged.
    """
    if language == "en":
        return
    from matplotlib.ticker import ScalarFormatter

    class _Comma(ScalarFormatter):
        def __call__(self, x, pos=None):
            return super().__call__(x, pos).replace(".", ",").replace("-", "\u2212")

    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(_Comma())
