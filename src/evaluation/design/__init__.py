"""The design stage: propensity score, trimming, matching, balance (blind to outcomes)."""

from evaluation.design.study import StudyDesign, study_design

__all__ = ["StudyDesign", "study_design"]
