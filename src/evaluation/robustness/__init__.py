"""How sure are we, and was it worth it: power, placebo tests, sensitivity, costs.

One verb per module: :mod:`~evaluation.robustness.power` (minimum detectable effect, ex
ante), :mod:`~evaluation.robustness.placebo` (pre-period outcomes and a fake start),
:mod:`~evaluation.robustness.sensitivity` (E-value, Rosenbaum bounds),
:mod:`~evaluation.robustness.speccurve` (a grid of defensible specifications, in parallel)
and :mod:`~evaluation.robustness.costs` (cost per participant and per additional person in
work, break-even).
"""
