"""``evaluation lab RUN``: a finished run's notebooks, ready to execute again in JupyterLab.

On the session's test run: the lab copy is private and beside the data (never under the
outputs), its notebooks point at it and at nothing of the run folder, one of them executed
in a plain kernel (no thread limits in its environment, as in a JupyterLab that was not
started by ``evaluation lab``) reproduces the run's numbers with its math libraries on one
thread, and the run folder is unchanged. A run whose cache entries are gone gets one clear
error. Tolerances: the re-executed notebook's results equal the run's to 1e-12 relative
(same code, same data, same seed; only the timings may differ).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shutil
import stat
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import papermill
import pytest

from evaluation.cli import main
from evaluation.pipeline.lab import LAB, RUNNER_ENVIRONMENT, injected_parameters, prepare_lab

#: The notebook executed again (the quickest that reads person-level scratch files).
NOTEBOOK = "02_design"
RTOL = 1e-12
#: Seconds JupyterLab may take to answer (generous: the suite runs on a loaded 2-core machine).
WAIT_SECONDS = 180

pytestmark = pytest.mark.slow


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def _same(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            if k not in ("seconds", "executed_at", "executed_until"):
                _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list) and isinstance(b, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-15) or (a != a and b != b), path
    else:
        assert a == b, path


@pytest.fixture(scope="module")
def lab(finished_run):
    run, _ = finished_run
    before = _digest(run.run_dir)
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["lab", str(run.run_dir), "--no-start"])
    assert code == 0
    return run, prepare_lab(run.run_dir), before, out.getvalue()


def test_the_lab_copy_is_private_beside_the_data_and_names_the_audit(lab):
    run, folder, _, printed = lab
    assert folder.folder == run.work_dir / LAB / run.run_dir.name
    assert run.run_dir.parent not in folder.folder.parents  # never under the outputs
    assert str(folder.notebooks) in printed
    assert "has not passed the disclosure audit" in printed
    assert "PYTHONHASHSEED=0" in printed and "--notebook-dir=" in printed


def test_the_copy_is_owner_only_whatever_the_callers_umask(lab):
    """The command line sets umask 077; a caller from Python (a bench script, a test) may not."""
    run, _, _, _ = lab
    mask = os.umask(0o022)
    try:
        folder = prepare_lab(run.run_dir)
    finally:
        os.umask(mask)
    paths = [folder.folder, *folder.folder.rglob("*")]
    assert any(p.suffix == ".parquet" for p in paths)
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path}: {oct(mode)}"


def test_every_notebook_points_at_the_lab_and_keeps_the_runs_other_parameters(lab):
    run, folder, _, _ = lab
    assert sorted(folder.names) == sorted(
        p.stem for p in (run.run_dir / "notebooks").glob("*.ipynb")
    )
    for name in folder.names:
        ran = injected_parameters(nbformat.read(run.run_dir / "notebooks" / f"{name}.ipynb", 4))
        mine = injected_parameters(nbformat.read(folder.notebooks / f"{name}.ipynb", 4))
        assert mine["run_dir"] == str(folder.run_dir)
        assert mine["scratch_dir"] == str(folder.scratch_dir)
        assert {k: v for k, v in mine.items() if k not in ("run_dir", "scratch_dir")} == {
            k: v for k, v in ran.items() if k not in ("run_dir", "scratch_dir")
        }
    assert (folder.scratch_dir / "design.parquet").is_file()  # what notebook 03 reads


def test_a_notebook_executed_in_a_plain_kernel_reproduces_the_run_on_one_thread(lab, monkeypatch):
    run, folder, before, _ = lab
    for key in RUNNER_ENVIRONMENT:  # the kernel inherits this environment
        monkeypatch.delenv(key, raising=False)
    results = folder.run_dir / "results" / f"{NOTEBOOK}.json"
    as_run = json.loads(results.read_text("utf-8"))  # restored from the run's cache entry
    nb_path = folder.notebooks / f"{NOTEBOOK}.ipynb"
    nb = nbformat.read(nb_path, 4)
    nb.cells.append(nbformat.v4.new_code_cell(
        "from threadpoolctl import threadpool_info\n"
        "print('threads', sorted({i['num_threads'] for i in threadpool_info()}))"
    ))  # fmt: skip
    nbformat.write(nb, nb_path)
    done = papermill.execute_notebook(str(nb_path), str(nb_path), kernel_name="python3",
                                      progress_bar=False, cwd=str(folder.notebooks))  # fmt: skip
    printed = "".join(o.get("text", "") for o in done.cells[-1].outputs)
    assert "threads [1]" in printed, printed
    _same(as_run, json.loads(results.read_text("utf-8")))
    assert _digest(run.run_dir) == before, "executing in the lab changed the run folder"


def test_a_run_whose_cache_entries_are_gone_gets_one_clear_error_and_keeps_the_old_copy(
    lab, tmp_path, capsys
):
    """The entries are checked before anything is written: an earlier lab copy of the run (with
    a reviewer's edits in it) is left as it was."""
    run, folder, _, _ = lab
    edited = folder.notebooks / "my_notes.txt"
    edited.write_text("a reviewer's note", "utf-8")
    before = _digest(folder.folder)
    copy = tmp_path / run.run_dir.name  # the same run name: the same lab folder
    shutil.copytree(run.run_dir, copy)
    results = json.loads((copy / "results.json").read_text("utf-8"))
    for info in results["provenance"]["notebooks"].values():
        info["cache_key"] = "0" * 64  # an entry that no longer exists
    (copy / "results.json").write_text(json.dumps(results), "utf-8")
    code = main(["lab", str(copy), "--no-start"])
    err = capsys.readouterr().err
    assert code == 4
    assert "are no longer in the work folder" in err and "evaluation run --params" in err
    assert "Traceback" not in err
    assert _digest(folder.folder) == before
    edited.unlink()


def test_lab_has_help():
    with pytest.raises(SystemExit) as exc, redirect_stdout(io.StringIO()) as out:
        main(["lab", "--help"])
    assert exc.value.code == 0
    assert "JupyterLab" in out.getvalue()


def test_jupyterlab_starts_on_the_lab_notebooks_with_the_runners_environment(lab, tmp_path):
    """The command ``evaluation lab`` starts (``lab_command`` with ``lab_environment``), on a
    free port: its contents API lists the run's notebooks (nothing else), and it starts a
    kernel for them."""
    import socket
    import subprocess
    import time
    import urllib.error
    import urllib.request

    from evaluation.pipeline.lab import lab_command, lab_environment

    _, folder, _, _ = lab
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "lab-test"
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        [*lab_command(folder), "--no-browser", f"--ServerApp.port={port}",
         "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}"],
        env=lab_environment(), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}/api"
    headers = {"Authorization": f"token {token}"}

    def call(path, method="GET", body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(base + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=WAIT_SECONDS) as resp:
            return json.loads(resp.read() or b"null")

    try:
        deadline, listed = time.monotonic() + WAIT_SECONDS, None
        while time.monotonic() < deadline and listed is None and server.poll() is None:
            try:
                listed = call("/contents")
            except urllib.error.HTTPError:
                raise  # it answered, and refused: not a slow start
            except OSError:
                time.sleep(1)
        said = (tmp_path / "jupyterlab.log").read_text("utf-8", errors="replace")[-3000:]
        assert listed is not None, f"JupyterLab did not answer within {WAIT_SECONDS} s:\n{said}"
        names = sorted(c["name"] for c in listed["content"])
        assert names == sorted(f"{n}.ipynb" for n in folder.names)
        kernel = call("/kernels", "POST", {"name": "python3"})
        assert kernel["name"] == "python3"
    finally:
        server.terminate()
        try:
            server.wait(timeout=WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
