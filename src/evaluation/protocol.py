"""The result protocol: how every estimate and chapter result shows and records itself.

Every result object of the study (an estimate, a test, a table-making step, a whole chapter)
is a small frozen dataclass that follows linearmodels' results: it can be looked at
(``_repr_html_`` in Jupyter, ``to_frame()`` as a table) and recorded (``to_record()``: the
JSON-ready dict that ``results.json`` stores). A different standard error means a new result,
never a changed one.

Where a result was made is taken from the code object, never typed by hand:
:func:`made_by` names a function, class or result by its import path, and
:func:`resolve_made_by` imports it back (a test does that for every exhibit of a run).
"""

from __future__ import annotations

import dataclasses
import importlib
import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

#: ``made_by`` of a value taken straight from the parameter file: ``"params: section.key"``.
PARAMS_PREFIX = "params: "
#: ``made_by`` of a value read from a file the project ships (an instrument): ``"file: path"``.
FILE_PREFIX = "file: "


def made_by(obj: Any) -> str:
    """The import path of the function or class that made a value.

    ``obj`` is a function, a class, a bound method, or a result object (its class, unless it
    carries a ``made_by`` attribute of its own, as results of :func:`produced_by` do).

    >>> made_by(made_by)
    'evaluation.protocol.made_by'
    """
    own = getattr(obj, "__dict__", {}).get("_made_by") if not callable(obj) else None
    if own:
        return own
    target = getattr(obj, "__func__", obj)  # a bound method: its function
    if not (callable(target) or isinstance(target, type)):
        target = type(obj)
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError(
            f"{obj!r} has no importable name (a lambda or a local function cannot be cited as "
            "the maker of a published value)"
        )
    return f"{module}.{qualname}"


def params_source(*keys: str) -> str:
    """``made_by`` of a value that is a parameter: ``params: design.trimming``."""
    return PARAMS_PREFIX + ", ".join(keys)


def resolve_made_by(name: str) -> Any:
    """Import what a ``made_by`` names (a ``params:``/``file:`` source is returned as is).

    Raises
    ------
    LookupError
        If the name does not resolve to an importable object.
    """
    if name.startswith((PARAMS_PREFIX, FILE_PREFIX)):
        return name
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError as exc:
            raise LookupError(f"made_by {name!r} does not resolve: {exc}") from None
        return obj
    raise LookupError(f"made_by {name!r} names no importable module")


def produced_by(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: results returned by ``fn`` know that ``fn`` made them (:func:`made_by`).

    Works on frozen dataclasses (the attribute is set outside the dataclass fields, so it is
    neither compared nor serialised).
    """
    name = made_by(fn)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        out = fn(*args, **kwargs)
        if out is not None and hasattr(out, "__dict__"):
            object.__setattr__(out, "_made_by", name)
        return out

    wrapper.__name__ = fn.__name__
    wrapper.__qualname__ = fn.__qualname__
    wrapper.__module__ = fn.__module__
    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn  # type: ignore[attr-defined]
    return wrapper


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it: NumPy scalars to Python, NaN/inf to ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, np.bool_ | bool):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        f = float(value)
        return f if math.isfinite(f) else None
    if value is pd.NA or value is None:
        return None
    if isinstance(value, pd.Timestamp | pd.Period):
        return str(value)
    return value


class Result:
    """Mixin for frozen result dataclasses: display and record themselves.

    Subclasses override :meth:`to_frame` when their natural table is not one row of their
    fields, and :meth:`to_record` when ``results.json`` should hold less or more than the
    public fields (fields whose name starts with ``_`` or whose metadata says
    ``private=True`` — person-level detail kept for the disclosure audit — are never
    recorded).
    """

    def _public_fields(self) -> dict[str, Any]:
        if not dataclasses.is_dataclass(self):
            raise TypeError(f"{type(self).__name__} is not a dataclass")
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not f.name.startswith("_") and not f.metadata.get("private", False)
        }

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready dict ``results.json`` stores (NaN as ``None``)."""
        out = {}
        for key, value in self._public_fields().items():
            if isinstance(value, pd.DataFrame | pd.Series):
                value = (
                    value.reset_index().to_dict(orient="records")
                    if isinstance(value, pd.DataFrame)
                    else value.to_dict()
                )
            elif dataclasses.is_dataclass(value) and isinstance(value, Result):
                value = value.to_record()
            out[key] = value
        return jsonable(out)

    def to_frame(self) -> pd.DataFrame:
        """The result as a table: one row of its scalar fields."""
        row = {k: v for k, v in self.to_record().items() if not isinstance(v, dict | list)}
        return pd.DataFrame([row])

    def _repr_html_(self) -> str:
        title = f"<p><b>{type(self).__name__}</b></p>"
        return title + self.to_frame().to_html(index=False, na_rep="")


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An exhibit a chapter did not compute, and why (instead of ``None``).

    Given to :class:`~evaluation.results.recorder.Recorder` in place of a value, table or
    list of estimates, it registers nothing (the report reads the key's absence), and
    ``Recorder.show`` of the key shows the reason; the notebook records optional exhibits
    without branching. The reason of the analysis goes into the run's ``skipped`` list
    through the chapter's own ``skipped`` mapping.
    """

    reason: str


def private(**kwargs: Any) -> Any:
    """A dataclass field kept for the disclosure audit and never recorded or shown."""
    return dataclasses.field(repr=False, compare=False, metadata={"private": True}, **kwargs)
