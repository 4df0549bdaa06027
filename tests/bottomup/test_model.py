"""The mentorship model's evidence rule and components."""

from __future__ import annotations

from evaluation.bottomup.model import evidence, mentorship_model

ROW = {"estimate": 0.5, "p_value": 0.01, "p_adjusted": 0.03}


def test_evidence_rule():
    assert evidence(0.01, 0.03) == "strong"
    assert evidence(0.01, 0.06) == "suggestive"  # survives only uncorrected
    assert evidence(0.15, 0.6) == "suggestive"
    assert evidence(0.25, 0.9) == "none"
    assert evidence(0.15, 0.6, suggestive_p=0.1) == "none"
    assert evidence(0.04, 0.04, level=0.99) == "suggestive"


def test_components_follow_the_estimates():
    slopes = {"below": {"estimate": 0.07, "p_value": 0.007},
              "above": {"estimate": 0.002, "p_value": 0.9}, "knot": 12}  # fmt: skip
    moderation = {"goal": {"estimate": 0.1, "p_value": 0.3, "p_adjusted": 0.9},
                  "network": {"estimate": 0.24, "p_value": 0.001, "p_adjusted": 0.003}}  # fmt: skip
    assoc = {"same_field": {"estimate": -0.1, "p_value": 0.8, "p_adjusted": 1.0},
             "migrant_mentor": {**ROW, "estimate": -0.4},
             "minutes_per_meeting": {"estimate": 0.1, "p_value": 0.15, "p_adjusted": 0.45}}  # fmt: skip
    comps = {c.name: c for c in mentorship_model(
        associations=assoc, slopes=slopes, moderation=moderation, relationship=ROW)}  # fmt: skip
    assert list(comps) == ["match_field", "match_background", "frequency", "length", "focus",
                           "relationship"]  # fmt: skip
    assert (comps["frequency"].evidence, comps["frequency"].direction) == (
        "strong",
        "rising_then_flat",
    )
    assert comps["focus"].detail == {"factor": "network"} and comps["focus"].evidence == "strong"
    assert (comps["match_background"].evidence, comps["match_background"].direction) == (
        "strong",
        "negative",
    )
    assert comps["match_field"].evidence == "none"
    assert comps["length"].evidence == "suggestive"


def test_absent_inputs_are_not_assessed():
    comps = mentorship_model(associations=None, slopes=None, moderation=None, relationship=None)
    assert {c.evidence for c in comps} == {"not_assessed"}


def test_frequency_takes_the_stronger_of_spline_and_linear_meetings_term():
    """The review found 'how often to meet: no evidence' beside a mentor-traits table grading
    '5 more meetings' as suggestive (p 0.125, negative): the component now agrees with it."""
    from evaluation.bottomup.model import frequency_component

    rule = {"level": 0.95, "suggestive_p": 0.2}
    flat = {"below": {"estimate": -0.16, "p_value": 0.47},
            "above": {"estimate": -0.06, "p_value": 0.53}, "knot": 12}  # fmt: skip
    fewer = {"estimate": -0.43, "p_value": 0.125, "p_adjusted": 0.50}
    c = frequency_component(flat, rule, fewer)
    assert (c.evidence, c.direction, c.detail["source"]) == ("suggestive", "negative", "linear")
    assert c.basis == ("bottomup_mentor_associations", "bottomup_dose_slopes")
    # a clear spline beats a weaker linear term, and keeps its shape
    rising = {"below": {"estimate": 0.07, "p_value": 0.007},
              "above": {"estimate": 0.002, "p_value": 0.9}, "knot": 12}  # fmt: skip
    c = frequency_component(rising, rule, fewer)
    assert (c.evidence, c.direction, c.detail["source"]) == ("strong", "rising_then_flat", "spline")
    # equal grades: the spline (the pre-specified dose analysis) speaks
    c = frequency_component(flat, rule, {"estimate": 0.2, "p_value": 0.6, "p_adjusted": 1.0})
    assert (c.evidence, c.detail["source"]) == ("none", "spline")
    assert frequency_component(None, rule, None).evidence == "not_assessed"
