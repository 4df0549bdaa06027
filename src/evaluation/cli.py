"""Command line: ``evaluation design | run | verify | synth | validate | exhibits | export``.

Errors the user can fix are printed as one message, without a traceback, with the exit code
of their kind (2 parameters, 3 data contract, 4 run, 5 disclosure, 6 a verified run's input
data changed, 7 the data or parameters a frozen design needs differ from the frozen ones);
``verify`` exits 1 when a number did not reproduce. A bug (exit 70) prints one
line; its traceback goes to a file only the user can read, in the private work folder when
the command has one (it may quote data).

The commands that read or write study data (``design``, ``run``, ``verify``, ``validate``,
``export``)
set the process's umask to ``0o077``: every folder and file they and their notebook kernels
create is the user's alone (``0700``/``0600``) until the data owner's output check has
cleared a run for sharing (README, "Where the outputs go").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from evaluation import __version__
from evaluation.errors import EvaluationError

#: The umask of the commands that read or write study data (see the module's docstring).
PRIVATE_UMASK = 0o077


def _private() -> None:
    """Everything created from here on is the user's alone (folders 0700, files 0600)."""
    os.umask(PRIVATE_UMASK)


def _terminate_as_interrupt() -> None:
    """Let ``kill`` (SIGTERM) end a run like Ctrl-C: marked failed, scratch deleted."""
    import signal

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def _cmd_run(args: argparse.Namespace) -> int:
    from evaluation.pipeline.run import run_study

    _private()
    _terminate_as_interrupt()
    result = run_study(
        args.params,
        args.out,
        render=not args.no_report,
        verbose=args.verbose,
        force=args.force,
        workers=args.workers,
        work_dir=args.work_dir,
        overrides=args.set,
        language=args.language,
        design=args.design,
    )
    if args.design is not None:
        print(f"The run used the frozen design {args.design} (checked: design as frozen).")
    print(f"Run finished in {result.seconds:.1f} s: {result.run_dir}")
    if result.report is not None:
        print(f"Report: {result.report}")
    return 0


def _cmd_design(args: argparse.Namespace) -> int:
    from evaluation.pipeline.freeze import write_design_freeze

    _private()
    done = write_design_freeze(args.params, args.out, work_dir=args.work_dir)
    print(f"Design frozen: {done.freeze}")
    print(f"Fingerprint: {done.fingerprint}")
    for path in done.summaries:
        print(f"Summary: {path}")
    print(f"The person-level design stays private: {done.private}")
    print(f"Register the fingerprint, then run the outcomes with: evaluation run --params "
          f"{args.params} --design {done.freeze}")  # fmt: skip
    return 0


def _verify_design(args: argparse.Namespace) -> int:
    from evaluation.pipeline.freeze import load_freeze, verify_against_freeze

    run = _finished_run(args.run)
    doc = load_freeze(args.design)
    results = json.loads((run / "results.json").read_text("utf-8"))
    problems = verify_against_freeze(doc, results)
    after = [e["key"] for e in results.get("exhibits", []) if e.get("notebook") != "02_design"]
    print(f"Freeze {doc['fingerprint'][:16]}… (frozen {doc['content']['frozen_at']}) against "
          f"{run.name}:")  # fmt: skip
    if problems:
        for line in problems:
            print(f"  {line}")
    else:
        print("  design as frozen; headline and specification grid as frozen")
    print(f"  {len(after)} of {len(results.get('exhibits', []))} exhibits are not part of the "
          "design (notebooks other than 02_design): decided with or after the outcomes")  # fmt: skip
    return 7 if problems else 0


def _finished_run(folder: Path) -> Path:
    """The folder, if it holds a finished run; otherwise a clear error (exit 4)."""
    from evaluation.results.runfolder import finished_run_folder

    return finished_run_folder(folder)


def _cmd_verify(args: argparse.Namespace) -> int:
    from evaluation.pipeline.verify import report_lines, verify_run

    _private()
    if args.design is not None:
        return _verify_design(args)
    _finished_run(args.run)
    _terminate_as_interrupt()
    print(f"Re-executing {args.run} from its parameters and data ...", flush=True)
    result = verify_run(args.run, keep=args.keep, work_dir=args.work_dir)
    for line in report_lines(result):
        print(line)
    if result.rerun_dir is not None:
        print(f"The re-executed run: {result.rerun_dir}")
    return 0 if result.reproduced else 1


def _cmd_lab(args: argparse.Namespace) -> int:
    from evaluation.pipeline.lab import RUNNER_ENVIRONMENT, lab_command, open_lab, prepare_lab

    _private()
    lab = prepare_lab(_finished_run(args.run), work_dir=args.work_dir)
    command = lab_command(lab)
    print(f"Lab copy of {args.run}: {lab.notebooks}")
    print(f"  {len(lab.names)} notebooks; they read {lab.scratch_dir} and write {lab.run_dir}.")
    print(
        "  What they show when executed there has not passed the disclosure audit: keep it there."
    )
    if args.no_start:
        env = " ".join(f"{key}={value}" for key, value in RUNNER_ENVIRONMENT.items())
        print(f"Open it with: {env} {' '.join(command)}")
        return 0
    return open_lab(lab)


def _cmd_synth(args: argparse.Namespace) -> int:
    from evaluation import synth
    from evaluation.errors import ParamsError

    if args.n_mentored < 1 or args.n_comparison < 1:
        raise ParamsError(
            f"--n-mentored ({args.n_mentored}) and --n-comparison ({args.n_comparison}) must be "
            "positive whole numbers (the default study: --n-mentored 50 --n-comparison 3000)."
        )

    study = synth.generate(args.seed, n_mentored=args.n_mentored, n_comparison=args.n_comparison)
    written = synth.write(study, args.out, fmt=args.format)
    for table, path in written.items():
        print(f"{table:>12}: {path}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from evaluation.config import Params, PoolingParams, check_input_files, read_params_text
    from evaluation.pipeline.overrides import parse_with_overrides

    _private()
    _, params = parse_with_overrides(
        read_params_text(args.params), args.set, language=args.language, source=args.params
    )
    check_input_files(params, source=args.params)
    if isinstance(params, PoolingParams):
        from evaluation.pooling.pool import load_sites

        sites = load_sites(params)
        for site in sites:
            print(f"{site.key:>12}: {site.path}")
        print(f"The {len(sites)} site bundles meet the bundle schema, the disclosure rules and "
              "are comparable with each other.")  # fmt: skip
        return 0
    if not isinstance(params, Params):
        print(f"{args.params}: kind {params.kind} reads no input tables of its own (its data come "
              "from a PyPI package); nothing to validate.")  # fmt: skip
        return 0
    from evaluation.pipeline.inputs import validate_inputs

    study = validate_inputs(params)
    print(study.summary().to_string(index=False))
    for note in study.notes:
        print(note)
    print("The input tables meet the data contract and the design's needs.")
    if params.programme is None:
        print(f"note: {args.params} has no programme block yet; a run needs one (name, funder, "
              "period, aims, planned participants, budget: see params/default.yaml).")  # fmt: skip
    return 0


def _cmd_init(args: argparse.Namespace) -> int:
    from evaluation.data.scaffold import guess_study, parameter_file, table_files, unassigned
    from evaluation.errors import ParamsError

    folder = Path(args.data_dir)
    if not folder.is_dir():
        raise ParamsError(f"{folder}: not a folder. Give the folder that holds the exported "
                          "tables, e.g. evaluation init data/export")  # fmt: skip
    if not table_files(folder):
        raise ParamsError(f"{folder}: no table file in it (.csv, .xlsx, .parquet, .dta, .sav). "
                          "Put the exported tables in one folder and give that folder.")  # fmt: skip
    target = Path(args.out)
    if target.exists() and not args.force:
        raise ParamsError(f"{target} exists; it is left as it is. Choose another file with "
                          "--out, or replace it with --force.")  # fmt: skip
    _private()
    chosen = guess_study(folder)
    text = parameter_file(folder, target, chosen)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, "utf-8")
    for table, guess in chosen.items():
        if guess is None:
            print(f"{table:>12}: no file recognised")
            continue
        todo = len(guess.missing) + sum(len(c) for c in guess.unknown_codes.values())
        print(f"{table:>12}: {guess.path.name} ({guess.score} of "
              f"{guess.score + len(guess.missing)} required columns recognised, "
              f"{len(guess.columns)} renamed, {len(guess.recode)} column(s) recoded"
              f"{f', {todo} TODO' if todo else ''})")  # fmt: skip
    for path in unassigned(folder, chosen):
        print(f"{'not used':>12}: {path.name}")
    print(
        f"Written: {target}. Check every guess in it (TODO marks what is left), then run: "
        f"evaluation validate --params {target}"
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from evaluation.pipeline.compare import compare_runs, html_page, text_lines

    result = compare_runs(args.run_a, args.run_b)
    for line in text_lines(result):
        print(line)
    page = args.html
    if page is None:
        page = (
            Path(args.run_b).parent
            / f"compare-{Path(args.run_a).name}-vs-{Path(args.run_b).name}.html"
        )
    if any(
        Path(page).resolve().is_relative_to(Path(r).resolve()) for r in (args.run_a, args.run_b)
    ):
        from evaluation.errors import ParamsError

        raise ParamsError(f"--html {page}: not inside a run folder (a finished run is never "
                          "changed); choose a file outside both runs.")  # fmt: skip
    Path(page).parent.mkdir(parents=True, exist_ok=True)
    Path(page).write_text(html_page(result), "utf-8")
    print(f"HTML page: {page}")
    return 0


def _cmd_exhibits(args: argparse.Namespace) -> int:

    from evaluation.results.recorder import exhibit_list_markdown, replace_readme_section

    results_path = _finished_run(args.run) / "results.json"
    table = exhibit_list_markdown(json.loads(results_path.read_text("utf-8")))
    if args.write_readme:
        readme = args.readme.read_text("utf-8")
        args.readme.write_text(replace_readme_section(readme, table), "utf-8")
        print(f"List of exhibits written to {args.readme}")
    else:
        print(table)
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from evaluation.pooling.export import export_bundle

    _private()
    done = export_bundle(args.run, args.out, price_year=args.price_year)
    scanned = (f"scanned for {done.identifiers_scanned} person/mentor identifiers of the inputs"
               if done.identifiers_scanned else "input tables not found: scanned for "
               "identity-number shapes only")  # fmt: skip
    print(
        f"Site bundle of '{done.site}': {done.n_effects} estimates, {done.n_withheld} withheld "
        f"(too few treated); {scanned}."
    )
    print(f"Written: {done.path}")
    print("Send this file to the pooling study; it holds aggregates only.")
    return 0


SET_HELP = (
    "override one key of the parameter file, e.g. --set estimation.headline.estimator=ipw "
    "or --set costs.cost_per_participant=40000 (repeatable; dotted keys; the value is read "
    "as YAML: 12, 0.5, true, null, [6, 12], text). Unknown keys are refused (exit 2); paths "
    "of data.<table> are relative to the current folder. The run records the parameters "
    "with the overrides applied, so 'evaluation verify' re-executes the variant"
)
LANGUAGE_HELP = "the report's language, en or sv (overrides study.language)"


def _add_overrides(command: argparse.ArgumentParser) -> None:
    """``--set KEY=VALUE`` (repeatable) and ``--language`` of the commands that read params."""
    command.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help=SET_HELP)
    command.add_argument("--language", choices=("en", "sv"), default=None, help=LANGUAGE_HELP)


WORK_DIR_HELP = (
    "private work folder for the person-level scratch files and the notebook cache, never "
    "inside --out (default: .evaluation-work beside the participants table; for runs "
    "without person-level inputs, beside the parameter file)"
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for tests and for ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="evaluation",
        description=(
            "Evaluation of a mentoring programme's effect on employment (the default parameter "
            "file describes BottomUp Integration; a site's file describes its own programme): "
            "run the notebooks on a parameter file, freeze the design, make the synthetic "
            "study, or check input tables against the data contract."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help="run the whole study and render the report",
        description=(
            "Validate the parameters and the input tables, execute the notebooks with "
            "papermill, write results.json, tables, figures and the report into a new run "
            "folder under --out, and print its path. A failed run is kept as <run>-failed and "
            "never replaces the last good run (<out>/<params>-latest)."
        ),
    )
    run.add_argument("--params", required=True, type=Path, help="parameter file (YAML)")
    run.add_argument(
        "--out",
        default=Path("outputs"),
        type=Path,
        help="folder for run folders (default: outputs)",
    )
    run.add_argument("--no-report", action="store_true", help="skip rendering the report")
    run.add_argument("--verbose", action="store_true", help="show papermill's own log")
    run.add_argument(
        "--force",
        action="store_true",
        help="execute every notebook, even those whose inputs are unchanged (default: reuse "
        "them from the cache in the work folder)",
    )
    run.add_argument(
        "--workers", type=int, default=2, help="notebooks executed at once (default 2)"
    )
    run.add_argument("--work-dir", type=Path, default=None, help=WORK_DIR_HELP)
    _add_overrides(run)
    run.add_argument(
        "--design", type=Path, default=None, metavar="FROZEN",
        help="a design freeze (design_freeze.json of 'evaluation design', or its folder): "
        "refuse (exit 7) if the data or parameters the design needs differ from the frozen "
        "ones; the design is recomputed and proved identical to the frozen one, and every "
        "notebook is executed (as --force)",
    )  # fmt: skip
    run.set_defaults(func=_cmd_run)

    des = sub.add_parser(
        "design",
        help="freeze the design stage before any outcome is read",
        description=(
            "Run the data and design stages on what the design reads only (the participants "
            "and the monthly rows before each person's start; no post-start month is needed) "
            "and write a design freeze: design_freeze.json, one SHA-256 fingerprint over the "
            "design parameters, the SHA-256 of the design inputs, the propensity model, the "
            "trimming and matching decisions (aggregates), balance, the specification grid and "
            "the headline, and the code version; with a one-page summary (en, sv). The "
            "person-level design stays in the private work folder. Then: evaluation run "
            "--design FROZEN."
        ),
    )
    des.add_argument("--params", required=True, type=Path, help="parameter file (YAML)")
    des.add_argument(
        "--out", default=Path("outputs"), type=Path,
        help="folder for the freeze's folder (default: outputs)",
    )  # fmt: skip
    des.add_argument("--work-dir", type=Path, default=None, help=WORK_DIR_HELP)
    des.set_defaults(func=_cmd_design)

    ver = sub.add_parser(
        "verify",
        help="re-execute a finished run and check that every number reproduces",
        description=(
            "Re-execute a run folder from its recorded parameters (params.yaml) in the private "
            "work folder, without the cache, and compare every value of results.json "
            "except provenance: integers and strings exactly, floats to 1e-9 relative. Prints "
            "'reproduced' (exit 0) or each difference as path: old -> new (exit 1). Refuses, "
            "with exit 6, if an input file is missing or its SHA-256 differs from the recorded one."
        ),
    )
    ver.add_argument("run", type=Path, help="a finished run folder")
    ver.add_argument(
        "--keep", type=Path, default=None, help="keep the re-executed run under this folder"
    )
    ver.add_argument("--work-dir", type=Path, default=None, help=WORK_DIR_HELP)
    ver.add_argument(
        "--design", type=Path, default=None, metavar="FROZEN",
        help="instead of re-executing, check the run against a design freeze: prints 'design "
        "as frozen' (exit 0) or each difference (exit 7)",
    )  # fmt: skip
    ver.set_defaults(func=_cmd_verify)

    lab = sub.add_parser(
        "lab",
        help="open a finished run's notebooks in JupyterLab, ready to execute again",
        description=(
            "Copy a run's executed notebooks into a private lab folder in its work folder "
            "(<work>/lab/<run>/, beside the data), with the person-level files they read "
            "restored from the notebook cache (each checked against its stored SHA-256) and "
            "their parameters pointing there, then start JupyterLab on them with the runner's "
            "environment (one thread per math library, PYTHONHASHSEED=0). Executing a notebook "
            "there changes nothing of the run. What it shows has not passed the run's "
            "disclosure audit: keep it in the lab folder."
        ),
    )
    lab.add_argument("run", type=Path, help="a finished run folder (e.g. outputs/default-latest)")
    lab.add_argument("--work-dir", type=Path, default=None, help=WORK_DIR_HELP)
    lab.add_argument(
        "--no-start", action="store_true",
        help="prepare the lab folder and print how to open it, without starting JupyterLab",
    )  # fmt: skip
    lab.set_defaults(func=_cmd_lab)

    syn = sub.add_parser(
        "synth",
        help="write the synthetic default study (five contract tables + truth.json)",
        description=(
            "Generate the synthetic study deterministically from a seed, laid out per the data "
            "contract, with a truth file holding the exact true effects."
        ),
    )
    syn.add_argument("--seed", type=int, default=20170601, help="seed (default: 20170601)")
    syn.add_argument("--n-mentored", type=int, default=50, help="mentored persons (default 50)")
    syn.add_argument(
        "--n-comparison", type=int, default=3000, help="comparison pool size (default 3000)"
    )
    syn.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format")
    syn.add_argument(
        "--out", type=Path, default=Path("data/synthetic"), help="folder (default data/synthetic)"
    )
    syn.set_defaults(func=_cmd_synth)

    val = sub.add_parser(
        "validate",
        help="check the input tables of a parameter file against the data contract",
        description="Read and validate every input table; print a summary or what is wrong.",
    )
    val.add_argument("--params", required=True, type=Path, help="parameter file (YAML)")
    _add_overrides(val)
    val.set_defaults(func=_cmd_validate)

    ini = sub.add_parser(
        "init",
        help="write a first parameter file for a folder of exported tables",
        description=(
            "Read every table file of DATA_DIR (a sample of its rows), recognise which contract "
            "table each holds and which of its columns are the contract's (by name, in English "
            "or in the Swedish of the usual exports: Löpnummer, Kön, Månad...), guess the "
            "mapping of the usual codes of closed code lists (Kvinna -> female, Ja -> 1), and "
            "write a commented parameter file with the columns map and recode map of each "
            "table. TODO comments mark what was not recognised. Only column names and codes "
            "of closed code lists are written, never another value of the data. Check the "
            "file, then run 'evaluation validate --params FILE'."
        ),
    )
    ini.add_argument(
        "data_dir", type=Path, metavar="DATA_DIR", help="the folder of exported tables"
    )
    ini.add_argument(
        "--out", type=Path, default=Path("study.yaml"),
        help="parameter file to write (default: study.yaml in the current folder); paths in "
        "it are relative to its folder",
    )  # fmt: skip
    ini.add_argument("--force", action="store_true", help="replace --out if it exists")
    ini.set_defaults(func=_cmd_init)

    cmp = sub.add_parser(
        "compare",
        help="show the parameters that differ and every number that moved between two runs",
        description=(
            "Compare two finished run folders: first the parameters that differ (their "
            "recorded params.yaml, key by key), then every number of results.json that "
            "moved, the headline first, then the effects (matched by outcome, estimator and "
            "subgroup), the other numbers and the tables; each as A -> B (B - A). Numbers "
            "agree within the tolerance of 'evaluation verify' (relative 1e-9); provenance, "
            "the list of exhibits and wall times are not compared. Printed as text and written "
            "as an HTML page. Exit 0 whether or not anything differs."
        ),
    )
    cmp.add_argument("run_a", type=Path, metavar="RUN_A", help="a finished run folder")
    cmp.add_argument("run_b", type=Path, metavar="RUN_B", help="another finished run folder")
    cmp.add_argument(
        "--html", type=Path, default=None,
        help="the HTML page to write (default: compare-<RUN_A>-vs-<RUN_B>.html beside RUN_B; "
        "never inside a run folder)",
    )  # fmt: skip
    cmp.set_defaults(func=_cmd_compare)

    exh = sub.add_parser(
        "exhibits",
        help="print the list of exhibits of a run (or write it into the README)",
        description=(
            "Every table, figure and number of a run is registered with the notebook and "
            "function that made it; print that registry as a Markdown table, or replace the "
            "list of exhibits in README.md with it."
        ),
    )
    exh.add_argument("run", type=Path, help="a finished run folder")
    exh.add_argument("--write-readme", action="store_true", help="replace the README's list")
    exh.add_argument("--readme", type=Path, default=Path("README.md"), help="(default README.md)")
    exh.set_defaults(func=_cmd_exhibits)

    exp = sub.add_parser(
        "export",
        help="write a finished run's site bundle for pooling across partner sites",
        description=(
            "Write the disclosure-checked bundle a partner site sends to a pooling study: the "
            "overall effect estimates with standard errors, balance summaries, counts "
            "(suppressed below the run's disclosure.min_cell), the site's name, country, "
            "currency and price year, the outcome definitions and provenance hashes. "
            "Aggregates only: the bundle is validated against its schema and scanned for "
            "person identifiers before it is written; a refusal names the field."
        ),
    )
    exp.add_argument(
        "run", type=Path, help="a finished study run folder (e.g. outputs/default-latest)"
    )
    exp.add_argument(
        "--out",
        type=Path,
        default=None,
        help="bundle file to write (default: bundles/<site>.json beside the run folder, e.g. "
        "outputs/bundles/default.json for outputs/default-latest; never inside a run folder)",
    )
    exp.add_argument(
        "--price-year",
        type=int,
        default=None,
        help="price year of the money outcomes, 1900-2100 (default: the year of the last "
        "start month)",
    )
    exp.set_defaults(func=_cmd_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evaluation`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; the last good run is untouched.", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a bug: one line for the user, details in a file
        log = _write_traceback(args)
        print(f"internal error ({type(exc).__name__}: {exc}). This is a bug, not your input: "
              f"please report it with the details written to {log}. Earlier runs are "
              "untouched. That file is readable by you only and may quote your data: check "
              "it before sending it.", file=sys.stderr)  # fmt: skip
        return 70


def _error_folder(args: argparse.Namespace) -> Path | None:
    """The private work folder's ``errors/`` of a command that has one, else ``None``."""
    from evaluation.pipeline import workdir

    try:
        if getattr(args, "params", None) is not None:
            from evaluation.config import read_params_text
            from evaluation.pipeline.overrides import parse_with_overrides

            params_path = Path(args.params)
            # the parameters the command ran with: --set and --language applied, so that a
            # --set paths.work_dir=... run's report lands in that work folder
            _, params = parse_with_overrides(
                read_params_text(params_path),
                getattr(args, "set", None) or (),
                language=getattr(args, "language", None),
                source=params_path,
            )
            work = workdir.resolve_work_dir(
                params, params_path.resolve().parent, None, getattr(args, "work_dir", None)
            )
        elif getattr(args, "work_dir", None) is not None:
            work = Path(args.work_dir).resolve()
        elif getattr(args, "run", None) is not None:  # a run folder: its recorded parameters
            from evaluation.config import parse_params
            from evaluation.pipeline.verify import recorded_params

            text, params_file, base = recorded_params(Path(args.run).resolve())
            params = parse_params(text, source=params_file, base=base)
            work = workdir.resolve_work_dir(params, base, None)
        else:
            return None
        return workdir.private_dir(work / workdir.ERRORS)
    except Exception:  # noqa: BLE001 - the bug report must not fail on a second problem
        return None


def _write_traceback(args: argparse.Namespace) -> Path:
    """Write the current exception's traceback to a new file only the user can read."""
    import traceback

    folder = _error_folder(args)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    # mkstemp: a new file, mode 0600 whatever the umask, never an existing one (nor a link)
    fd, name = tempfile.mkstemp(prefix=f"evaluation-error-{stamp}-", suffix=".txt",
                                dir=None if folder is None else str(folder))  # fmt: skip
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(traceback.format_exc())
    return Path(name)


if __name__ == "__main__":
    sys.exit(main())
