"""A non-editable install (a wheel) carries what a run needs and runs the study.

The package list in pyproject.toml is explicit (the notebooks and instruments are mapped into
the package from the top of the repository), so a new subpackage must be added there: the first
test says which one is missing. The slow test builds the wheel, installs it into a folder of its
own and runs a small study from outside the repository with that copy of the package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"


def _declared() -> list[str]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"][
        "packages"
    ]


def test_every_subpackage_is_declared():
    found = {
        ".".join(p.parent.relative_to(SRC).parts)
        for p in (SRC / "evaluation").rglob("__init__.py")
        if "__pycache__" not in p.parts
    }
    missing = sorted(found - set(_declared()))
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {missing}"


def test_resources_are_found_in_the_checkout():
    from evaluation import resources

    assert (resources.NOTEBOOKS / "01_data.py").is_file()
    assert (resources.INSTRUMENTS / "survey_v1.csv").is_file()
    assert resources.SPECIFICATION_GRID.is_file()


@pytest.mark.slow
def test_a_wheel_runs_the_study_outside_the_checkout(tmp_path, make_params):
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        pytest.skip("uv is not in the environment (make setup installs it)")
    wheels = tmp_path / "wheel"
    subprocess.run(
        [str(uv), "build", "--wheel", "--quiet", "-o", str(wheels), str(ROOT)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("evaluation-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "evaluation/notebooks/01_data.py",
        "evaluation/notebooks/benchmarks/lalonde.py",
        "evaluation/instruments/survey_v1.csv",
        "evaluation/robustness/specifications.yaml",
        "evaluation/results/results.schema.json",
        "evaluation/report/templates/study.html.j2",
        "evaluation/text/sv/report.yaml",
    ):
        assert needed in names, f"the wheel lacks {needed}"
    site = tmp_path / "site"
    subprocess.run(
        [str(uv), "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True,
    )
    study = tmp_path / "study"
    params = make_params(study)
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run(
        [sys.executable, "-c", "import evaluation; print(evaluation.__file__)"],
        env=env,
        cwd=study,
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    run = subprocess.run(
        [sys.executable, "-c", "import sys; from evaluation.cli import main; sys.exit(main())",
         "run", "--params", str(params), "--out", str(study / "outputs"), "--no-report"],
        env=env,
        cwd=study,
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert (study / "outputs" / "study-latest" / "results.json").is_file()
