"""Figure labels in the report's languages (figures are drawn in the notebooks)."""

from __future__ import annotations

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "mentored": "mentored",
        "comparison": "comparison",
        "share_of_group": "Share of the group",
        "pre_months_employed": "Months employed in the 12 months before start",
        "pscore_logit": "Propensity score (logit scale)",
        "smd": "Standardised mean difference (treated SD)",
        "before": "Before",
        "after_matching": "After matching",
        "effect_ci": "Effect on {outcome} (95 % CI)",
    },
    "sv": {
        "mentored": "mentorsdeltagare",
        "comparison": "jämförelsegrupp",
        "share_of_group": "Andel av gruppen",
        "pre_months_employed": "Månader i arbete de 12 månaderna före start",
        "pscore_logit": "Benägenhetspoäng (logitskala)",
        "smd": "Standardiserad medelvärdesskillnad (behandlades SD)",
        "before": "Före",
        "after_matching": "Efter matchning",
        "effect_ci": "Effekt på {outcome} (95 % KI)",
    },
}


def labels(language: str) -> dict[str, str]:
    """The figure labels of one language (``en`` or ``sv``)."""
    return LABELS[language]
