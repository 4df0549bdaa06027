"""The bottom-up factors: what the participants report and what goes with better outcomes.

Notebook 05 uses: ``instrument`` (items, factors, wording) · ``scales`` (reverse coding,
Cronbach's alpha, scores) · ``factors`` (exploratory factor analysis) · ``profiles``
(agreement, profiles, paired change) · ``moderation`` (effect modification by baseline
scores) · ``dose`` (mentoring dose and mentor traits, as associations) · ``model`` (the
mentorship model's evidence rule).
"""
