"""BottomUp Integration evaluation study: data contract, estimators, runner and report."""

__version__ = "0.1.0"
