"""The study's notebooks are thin callers of evaluation (issue 14): numbers happen in functions.

The share of a notebook's code lines that are not calls into ``evaluation`` (the parameters
cell and imports excluded; a compound statement's header counts as one non-call line, its body
statement by statement) stays at or below :data:`MAX_NON_CALL_SHARE`; no figure is drawn and no
small-cell rule applied in a notebook.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from evaluation.pipeline.notebooks import NOTEBOOK_DIR

#: At most this share of a notebook's code lines may be other than calls into evaluation.
MAX_NON_CALL_SHARE = 0.30
STUDY_NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("0*.py"))
#: Signs of work that belongs in src/: figure code and small-cell rules.
FORBIDDEN = (
    r"\bplt\.subplots\b",
    r"\bax\.",
    r"(?<!rec)\.plot\(",
    r"\bsns\.",
    r"min_cell\s*[<>]=?",
    r"[<>]=?\s*min_cell",
)


def _count(stmts: list[ast.stmt], ev: set[str]) -> tuple[int, int]:
    total = noncall = 0
    for st in stmts:
        if isinstance(st, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(st, (ast.For, ast.If, ast.While, ast.With, ast.Try)):
            total, noncall = total + 1, noncall + 1
            for part in (st.body, getattr(st, "orelse", []), getattr(st, "finalbody", [])):
                t, n = _count(part, ev)
                total, noncall = total + t, noncall + n
            continue
        lines = st.end_lineno - st.lineno + 1
        total += lines
        if isinstance(st, (ast.FunctionDef, ast.ClassDef)) or not _calls_evaluation(st, ev):
            noncall += lines
    return total, noncall


def _calls_evaluation(st: ast.stmt, ev: set[str]) -> bool:
    for node in ast.walk(st):
        if isinstance(node, ast.Call):
            f = node.func
            while isinstance(f, (ast.Attribute, ast.Call, ast.Subscript)):
                f = f.func if isinstance(f, ast.Call) else f.value
            if isinstance(f, ast.Name) and f.id in ev:
                return True
    return False


def non_call_share(path: Path) -> tuple[int, int]:
    """(non-call lines, code lines) of a jupytext notebook, parameters cell excluded."""
    src = path.read_text("utf-8")
    tree = ast.parse(src)
    ev = {a.asname or a.name.split(".")[0] for n in ast.walk(tree)
          if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("evaluation")
          for a in n.names} | {"rec"}  # fmt: skip
    total = noncall = 0
    head = ""
    for chunk in re.split(r"^(# %%.*)$", src, flags=re.M):
        if chunk.startswith("# %%"):
            head = chunk
            continue
        if "parameters" in head or "[markdown]" in head:
            continue
        t, n = _count(ast.parse(chunk).body, ev)
        total, noncall = total + t, noncall + n
    return noncall, total


def test_the_measure_counts_what_it_says():
    src = (
        "# %%\nfrom evaluation.x import f\nrec = f()\n"
        "for k in range(3):\n    rec.show(k)\n    y = k + 1\n"
    )
    tmp = Path(__file__).with_name("_shape_probe.py")
    try:
        tmp.write_text(src, "utf-8")
        assert non_call_share(tmp) == (2, 4)  # the for header and y = k + 1
    finally:
        tmp.unlink()


@pytest.mark.parametrize("path", STUDY_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_a_thin_caller(path):
    noncall, total = non_call_share(path)
    assert noncall <= MAX_NON_CALL_SHARE * total, (
        f"{path.name}: {noncall} of {total} code lines are not calls into evaluation "
        f"(at most {MAX_NON_CALL_SHARE:.0%}); move the work into src/evaluation/chapters/"
    )


@pytest.mark.parametrize("path", STUDY_NOTEBOOKS, ids=lambda p: p.stem)
def test_no_figure_code_or_small_cell_rule_in_a_notebook(path):
    code = "\n".join(
        line for line in path.read_text("utf-8").splitlines() if not line.lstrip().startswith("#")
    )
    found = [p for p in FORBIDDEN if re.search(p, code)]
    assert not found, f"{path.name}: {found} (figures and disclosure rules belong in src/)"
