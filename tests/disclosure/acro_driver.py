"""Crosstab person-level rows with acro (SACRO) and write its suppression decisions as JSON.

Run by ``.venv-acro/bin/python`` (acro pins ``pandas<=2.3.3``; the study's ``.venv`` has
pandas 3), from ``tests/disclosure/test_acro_second_opinion.py``::

    .venv-acro/bin/python tests/disclosure/acro_driver.py SPEC.json ROWS.csv OUT.json

``ROWS.csv`` has one person per line: ``table,row,col`` (all read as text). ``SPEC.json`` is
``{"threshold": k, "tables": {name: {"rows": [...], "cols": [...]}}}``: the categories of each
table in order (a category nobody is in still gets its line). Each table is one
``acro.crosstab(row, col, margins=True, margins_name="Total")`` of an ``ACRO(suppress=True)``
session whose ``safe_threshold`` is ``k``; the rest of acro's default configuration is kept.

``OUT.json`` holds, per table: ``rows`` and ``cols`` (labels, margins last), ``counts`` (the
unsuppressed crosstab), ``outcome`` (acro's per-cell outcome: ``"ok"`` or the names of the
checks the cell fails, ``"; "``-separated), ``published`` (the table acro returns with
suppression applied, ``null`` where a cell is withheld), ``status``, and ``config`` (acro's
version and the risk appetite it ran with). Nothing else of acro's session is written.

acro 1.0.2 cannot suppress a table every person of which is in a withheld cell: it drops
their rows, and pandas' crosstab of no rows with margins raises ``KeyError``. For such a
table the outcome comes from a second session without mitigation (the checks are the same;
only the redaction differs), ``published`` is ``null`` and ``error`` says what acro raised.
"""

from __future__ import annotations

import json
import logging
import sys
import warnings
from pathlib import Path

import acro
import pandas as pd
from acro.version import __version__ as acro_version


def _grid(frame: pd.DataFrame, rows: list, cols: list) -> list[list]:
    out = []
    for r in rows:
        line = []
        for c in cols:
            value = frame.loc[r, c]
            if isinstance(value, str):
                line.append(value)
            elif pd.isna(value):
                line.append(None)
            else:
                line.append(int(value) if float(value).is_integer() else float(value))
        out.append(line)
    return out


def main(spec_path: str, rows_path: str, out_path: str) -> None:
    """Crosstab every table of the spec with acro and write what it decided."""
    spec = json.loads(Path(spec_path).read_text("utf-8"))
    data = pd.read_csv(rows_path, dtype=str, keep_default_na=False)
    warnings.simplefilter("ignore", pd.errors.SettingWithCopyWarning)  # inside acro
    # acro formats whole tables into its debug messages eagerly (f-strings), a third of its
    # time here; this driver shows none of them, so a frame's repr is made short (no decision
    # of acro reads it: the outcome and the published table are read as data, not as text)
    pd.DataFrame.__repr__ = lambda self: f"<DataFrame {self.shape}>"  # type: ignore[method-assign]
    session = acro.ACRO(suppress=True)
    unmitigated = acro.ACRO(suppress=False)
    logging.getLogger("acro").setLevel(logging.WARNING)
    for one in (session, unmitigated):
        # the checks read the session's config dict itself (SDCChecks keeps a reference to it)
        assert one.sdc_checks.risk_appetite is one.config
        one.config["safe_threshold"] = int(spec["threshold"])
    out: dict = {
        "config": {
            "acro_version": acro_version,
            "pandas_version": pd.__version__,
            **{k: v for k, v in session.config.items() if k != "blocked_extensions"},
        },
        "tables": {},
    }
    by_table = dict(tuple(data.groupby("table", sort=False)))
    for name, cats in spec["tables"].items():
        part = by_table.get(name, data.iloc[0:0]).reset_index(drop=True)
        row = pd.Series(pd.Categorical(part["row"], categories=cats["rows"]), name="row")
        col = pd.Series(pd.Categorical(part["col"], categories=cats["cols"]), name="col")
        counts = pd.crosstab(row, col, margins=True, margins_name="Total", dropna=False)
        rows = [*cats["rows"], "Total"]
        cols = [*cats["cols"], "Total"]
        entry: dict = {"rows": rows, "cols": cols, "counts": _grid(counts, rows, cols)}
        try:
            published = session.crosstab(row, col, margins=True, margins_name="Total")
            used = session
            entry["published"] = _grid(published.reindex(index=rows, columns=cols), rows, cols)
        except KeyError as error:  # every person withheld (see the module docstring)
            unmitigated.crosstab(row, col, margins=True, margins_name="Total")
            used = unmitigated
            entry["published"] = None
            entry["error"] = repr(error)
        record = used.results.get_index(used.results.output_id - 1)
        entry["outcome"] = _grid(record.outcome, rows, cols)
        entry["status"] = record.status
        out["tables"][name] = entry
    Path(out_path).write_text(json.dumps(out, indent=1), "utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:4])
