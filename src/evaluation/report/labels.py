"""Figure labels in the report's languages (figures are drawn in the notebooks)."""

from __future__ import annotations

from evaluation.plots.theme import localise_axes  # noqa: F401  (re-exported)

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
        "alt_outcome_employed": "employed",
        "alt_outcome_earnings": "earnings",
        "alt_event_study": "Line chart of the estimated effect of mentoring on {outcome} for each "
        "month from {leads} months before to {lags} months after start, relative to the month "
        "before start, with a pointwise and a wider uniform 95 % band for the matched sample and "
        "square markers for the weighted sample.",
        "alt_staggered": "Effect of mentoring on {outcome} by period since the start period, "
        "Callaway–Sant'Anna doubly robust estimates with a uniform 95 % band, outcome-regression "
        "estimates as squares and the single two-way fixed-effects estimate as a dotted "
        "horizontal line.",
        "alt_time_to_job": "Step chart of the cumulative share of mentored and of matched "
        "comparison persons who have found a first job, by months since start (Kaplan–Meier, "
        "matching weights); steps resting on fewer persons than the disclosure threshold are "
        "merged.",
        "alt_bu_answers": "Stacked horizontal bars, one per survey item at baseline: the share "
        "disagreeing (1-2), neither (3) and agreeing (4-5) after reverse coding; answer groups "
        "with fewer persons than the disclosure threshold are merged into a hatched 'not shown' "
        "segment.",
        "alt_bu_moderation": "Dot plot: for each baseline factor, the change in the estimated "
        "effect per standard deviation of the factor score with its confidence interval "
        "(uncorrected); factors that survive the multiplicity correction are drawn in blue.",
        "alt_bu_dose": "Points with confidence intervals: the estimated effect on the outcome "
        "among the mentored in each band of number of meetings; bands with fewer mentored "
        "persons than the disclosure threshold are not estimated and marked.",
        "alt_power_curve": "Line chart: the probability of detecting an effect (power) rises "
        "with the true effect on the share employed, from 0 to 40 percentage points, one line "
        "per horizon; a dashed line marks the target power and dotted lines the minimum "
        "detectable effects.",
        "alt_placebo_forest": "Dot plot with 95 % confidence intervals of the placebo estimates "
        "on employment: before the real start, and after a fake start a year early, one row per "
        "adjusted estimator; a vertical line marks zero, the true value.",
        "alt_rosenbaum_bounds": "Line chart of the upper bound of the one-sided p-value of the "
        "headline comparison of matched pairs against Gamma, the factor by which a hidden "
        "characteristic could change the odds of being mentored; a dashed line marks the "
        "significance level.",
        "alt_spec_curve": "Upper panel: the estimated effect on the share employed of every "
        "specification, sorted from smallest to largest, with 95 % confidence intervals, "
        "significant ones in colour; lower panel: dots mark the choices (horizon, estimator, "
        "covariates, trimming, neighbours) of each specification.",
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
        "alt_outcome_employed": "sysselsättning",
        "alt_outcome_earnings": "inkomst",
        "alt_event_study": "Linjediagram över den skattade effekten av mentorskap på {outcome} "
        "för varje månad från {leads} månader före till {lags} månader efter start, jämfört med "
        "månaden före start, med ett punktvist och ett bredare simultant 95 %-band för det "
        "matchade urvalet och fyrkantiga markörer för det viktade urvalet.",
        "alt_staggered": "Effekten av mentorskap på {outcome} efter antal perioder sedan "
        "startperioden: dubbelt robusta skattningar enligt Callaway–Sant'Anna med ett simultant "
        "95 %-band, skattningar med utfallsregression som fyrkanter och den enda skattningen med "
        "tvåvägs fixa effekter som en prickad vågrät linje.",
        "alt_time_to_job": "Trappstegsdiagram över den kumulativa andelen mentorsdeltagare och "
        "matchade jämförelsepersoner som har fått ett första arbete, efter antal månader sedan "
        "start (Kaplan–Meier, matchningsvikter); steg som bygger på färre personer än "
        "röjandegränsen slås samman.",
        "alt_bu_answers": "Staplade liggande staplar, en för varje enkätfråga vid start: andelen "
        "som inte instämmer (1-2), varken eller (3) och instämmer (4-5) efter omvänd kodning; "
        "svarsgrupper med färre personer än röjandegränsen slås samman till ett streckat "
        "segment, ”visas inte”.",
        "alt_bu_moderation": "Punktdiagram: för varje faktor vid start, förändringen av den "
        "skattade effekten per standardavvikelse av faktorpoängen med sitt konfidensintervall "
        "(okorrigerat); faktorer som står sig efter korrektionen för multipla test ritas i blått.",
        "alt_bu_dose": "Punkter med konfidensintervall: den skattade effekten på utfallet bland "
        "mentorsdeltagarna i varje intervall av antal träffar; intervall med färre "
        "mentorsdeltagare än röjandegränsen skattas inte och märks.",
        "alt_power_curve": "Linjediagram: sannolikheten att upptäcka en effekt (styrkan) ökar "
        "med den verkliga effekten på andelen i arbete, från 0 till 40 procentenheter, en linje "
        "per horisont; en streckad linje markerar den önskade styrkan och prickade linjer de "
        "minsta upptäckbara effekterna.",
        "alt_placebo_forest": "Punktdiagram med 95 % konfidensintervall för placeboskattningarna "
        "av sysselsättning: före den verkliga starten och efter en falsk start ett år tidigare, "
        "en rad per justerad skattningsmetod; en lodrät linje markerar noll, det sanna värdet.",
        "alt_rosenbaum_bounds": "Linjediagram över den övre gränsen för det ensidiga p-värdet i "
        "huvudjämförelsen av matchade par mot Gamma, den faktor med vilken en dold egenskap "
        "skulle kunna ändra oddsen att få en mentor; en streckad linje markerar "
        "signifikansnivån.",
        "alt_spec_curve": "Övre panelen: den skattade effekten på andelen i arbete för varje "
        "specifikation, sorterade från minst till störst, med 95 % konfidensintervall, de "
        "signifikanta i färg; nedre panelen: punkter markerar valen (horisont, skattningsmetod, "
        "kovariater, trimning, grannar) för varje specifikation.",
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
