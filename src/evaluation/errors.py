"""User-facing errors.

Every error a user can cause (a bad parameter file, an extract that breaks the data
contract, a notebook that fails) is an :class:`EvaluationError`. The command line prints its
message, without a traceback, and exits with its ``exit_code``.
"""

from __future__ import annotations


class EvaluationError(Exception):
    """An error caused by the user's input, with a message that says what to do next."""

    exit_code = 1


class ParamsError(EvaluationError):
    """The parameter file is invalid (unknown key, wrong type, missing file)."""

    exit_code = 2


class ContractError(EvaluationError):
    """An input table breaks the data contract (../shared/CONTRACT.md, data/README.md)."""

    exit_code = 3


class RunError(EvaluationError):
    """A notebook or a stage of the run failed; the run folder is marked failed."""

    exit_code = 4


class DisclosureError(EvaluationError):
    """An output would disclose a person identifier or an unsuppressed small count."""

    exit_code = 5


class FreezeError(EvaluationError):
    """Data or parameters the frozen design needs differ from those it was frozen with.

    ``evaluation run --design FROZEN`` refuses to run (and ``verify --design`` reports) when
    the design it would use is not the frozen one; the message names what differs.
    """

    exit_code = 7
