"""A kernel that does not come up is launched again; after the last attempt, one clear message.

Real kernels throughout. A launch is made to fail the two ways nbclient reports: a kernel
that exits while starting ("Kernel died before replying to kernel_info", as when its port was
taken by another process) and one that does not answer in time ("Kernel didn't respond in N
seconds", as on a machine too busy). The notebook is a two-cell stand-in for a study
notebook, so that each launch costs about a second.
"""

from __future__ import annotations

import json
import logging

import nbformat
import pytest

from evaluation.errors import RunError
from evaluation.pipeline import execute
from evaluation.pipeline.notebooks import NOTEBOOKS, PreparedNotebook

#: Real kernels: outside ``make test-fast``, which starts none.
pytestmark = pytest.mark.slow

#: Kernel arguments that make a launch fail: the kernel exits, or sleeps, while starting.
DIES = ("--IPKernelApp.exec_lines=['import os; os._exit(3)']",)
HANGS = ("--IPKernelApp.exec_lines=['import time; time.sleep(30)']",)
#: Seconds the hanging kernel is waited for (it would answer after 30).
WAIT = 2


def _tiny_notebook():
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('run_dir = ""\nscratch_dir = ""')
    params.metadata["tags"] = ["parameters"]
    work = nbformat.v4.new_code_cell(
        "import pathlib\npathlib.Path(run_dir, 'ran.txt').write_text('yes')"
    )
    nb.cells = [params, work]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    nb.metadata["language_info"] = {"name": "python"}
    return nb


@pytest.fixture()
def tiny(tmp_path):
    """The stand-in notebook, prepared as the runner prepares a study notebook."""
    (tmp_path / "run").mkdir()
    prepared = PreparedNotebook(NOTEBOOKS[0], _tiny_notebook(), {})
    return prepared, tmp_path / "run", tmp_path / "scratch"


def test_a_kernel_that_does_not_start_is_launched_again(monkeypatch, tiny, caplog):
    prepared, run_dir, scratch = tiny
    real, real_arguments = execute._papermill, execute.KERNEL_ARGUMENTS
    launches = []

    def first_launch_fails(*args, **kwargs):
        launches.append(1)
        arguments = DIES if len(launches) == 1 else real_arguments
        monkeypatch.setattr(execute, "KERNEL_ARGUMENTS", arguments)
        return real(*args, **kwargs)

    monkeypatch.setattr(execute, "_papermill", first_launch_fails)
    with caplog.at_level(logging.WARNING, logger="evaluation.run"):
        out = execute.execute_notebook(prepared, run_dir, scratch)
    assert len(launches) == 2
    assert (run_dir / "ran.txt").read_text() == "yes", "the second kernel ran the notebook"
    executed = json.loads(out.read_text())
    assert executed["cells"][-1]["execution_count"] is not None
    [warning] = [r.getMessage() for r in caplog.records if r.name == "evaluation.run"]
    assert "did not start (attempt 1 of 3)" in warning and "01_data" in warning
    assert "Kernel died before replying" in warning


def test_after_the_last_attempt_the_run_fails_with_one_message(monkeypatch, tiny):
    prepared, run_dir, scratch = tiny
    monkeypatch.setattr(execute, "KERNEL_ARGUMENTS", HANGS)
    monkeypatch.setattr(execute, "KERNEL_START_SECONDS", WAIT)
    monkeypatch.setattr(execute, "KERNEL_START_ATTEMPTS", 2)
    with pytest.raises(RunError) as info:
        execute.execute_notebook(prepared, run_dir, scratch)
    message = str(info.value)
    assert message.startswith("notebook 01_data: its Python kernel did not start, 2 times")
    assert f"Kernel didn't respond in {WAIT} seconds" in message
    assert "Nothing of the notebook ran" in message and "kernels.log" in message
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert not (run_dir / "ran.txt").exists()


def test_other_runtime_errors_are_not_taken_for_a_slow_start(monkeypatch, tiny):
    prepared, run_dir, scratch = tiny
    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise RuntimeError("something else went wrong")

    monkeypatch.setattr(execute, "_papermill", broken)
    with pytest.raises(RuntimeError, match="something else"):
        execute.execute_notebook(prepared, run_dir, scratch)
    assert calls == [1], "launched once: only a kernel that did not start is retried"
