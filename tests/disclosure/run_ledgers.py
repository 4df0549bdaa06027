"""The ledgers a finished run's disclosure audit read, for tests that check it against them.

A run deletes its scratch folder; the notebooks' ledgers live on in the cache entries its
``provenance.notebooks.*.cache_key`` name (``<work>/cache/<key>/scratch/ledger/<nb>.npz``).
"""

from __future__ import annotations

import json
from pathlib import Path

from evaluation.disclosure.ledger import Ledger
from evaluation.pipeline import workdir
from evaluation.results.recorder import ledger_path


def run_ledgers(run_dir: Path, work_dir: Path) -> list[Ledger]:
    """The ledger of every notebook of the run that kept one."""
    results = json.loads((Path(run_dir) / "results.json").read_text("utf-8"))
    out = []
    for name, info in results["provenance"]["notebooks"].items():
        scratch = Path(work_dir) / workdir.CACHE / info["cache_key"] / "scratch"
        path = ledger_path(scratch, name)
        if path.is_file():
            out.append(Ledger.load(path))
    return out
