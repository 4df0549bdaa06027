"""Style is enforced, not hoped for: ruff's lint rules and its formatter hold on the whole checkout.

The rules are those of ``[tool.ruff]`` in pyproject.toml (notebooks' jupytext sources, bench/
and tests/ included). A failure prints ruff's own report; ``ruff format .`` and
``ruff check --fix .`` repair most of it.
"""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "."]], ids=["lint", "format"]
)
def test_ruff_is_clean(args):
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *args, "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
