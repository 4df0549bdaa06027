"""Synthetic partner sites for the pooling demonstration.

``python -m evaluation.pooling.sites --spec params/benchmarks/sites/sites.yaml`` writes each
site's five contract tables and ``truth.json`` into ``data/synthetic-sites/<site>/``. The
sites differ in size (mentored and comparison persons), labour market (a shift of the logit
of untreated employment; earnings in the site's own currency) and true effect (the
:class:`~evaluation.synth.EffectSpec` size), so that the pooled estimate and the
heterogeneity statistics have a known answer. Each site is then an ordinary study run
(``params/benchmarks/sites/<site>.yaml``) whose bundle is exported and pooled.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evaluation import synth
from evaluation.config import validation_lines
from evaluation.errors import EvaluationError, ParamsError

#: The specification a site folder was generated from (to regenerate it when that changes).
SPEC_FILE = "site_spec.json"


class SyntheticSite(BaseModel):
    """How one synthetic partner site is generated."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(ge=0, le=2**32 - 1)
    n_mentored: int = Field(ge=5, le=100_000)
    n_comparison: int = Field(ge=50, le=2_000_000)
    effect_size: float = Field(ge=-0.5, le=0.5, description="EffectSpec.size (0.10 = 10 pp).")
    employment_shift: float = Field(
        0.0, ge=-3, le=3, description="Added to the logit of untreated monthly employment."
    )
    currency: str = Field("SEK", pattern=r"^[A-Z]{3}$")
    earnings_per_sek: float = Field(
        1.0, gt=0, description="Site currency per SEK: earnings are drawn in the site currency."
    )
    region: str = Field("", description="Region name (documentation only).")


class SitesSpec(BaseModel):
    """The file listing the synthetic partner sites."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    out: str = Field("../../../data/synthetic-sites", description="Folder (relative to the file).")
    sites: dict[str, SyntheticSite] = Field(min_length=2)


def read_spec(path: str | Path) -> SitesSpec:
    """Read and validate the sites file."""
    path = Path(path)
    if not path.is_file():
        raise ParamsError(f"{path}: sites file not found.")
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ParamsError(f"{path}: not a readable YAML sites file ({exc}).") from None
    try:
        return SitesSpec.model_validate(doc)
    except ValidationError as err:
        lines = validation_lines(err, unknown="unknown field (see SyntheticSite)",
                                 missing="required field is missing", limit=8)  # fmt: skip
        raise ParamsError(
            f"{path}: not a valid sites file ({err.error_count()} problem(s)):\n"
            + "\n".join(lines)
            + "\nFix these fields (params/benchmarks/sites/sites.yaml shows every one)."
        ) from None


def generate_site(key: str, site: SyntheticSite, out_dir: Path) -> dict[str, Path]:
    """Generate one synthetic site into ``out_dir / key`` (CSV tables and truth.json)."""
    effect = synth.EffectSpec(size=site.effect_size)
    market = synth.LabourMarket(
        employment_shift=site.employment_shift,
        earnings_scale=site.earnings_per_sek,
        currency=site.currency,
    )
    place = synth.SiteSpec(region=site.region or key)
    study = synth.generate(site.seed, n_mentored=site.n_mentored, n_comparison=site.n_comparison,
                           effect=effect, site=place, market=market)  # fmt: skip
    written = synth.write(study, out_dir / key, fmt="csv")
    (out_dir / key / SPEC_FILE).write_text(site.model_dump_json(indent=2) + "\n", "utf-8")
    return written


def _is_current(folder: Path, site: SyntheticSite) -> bool:
    """Whether the folder holds a complete site generated from exactly this specification."""
    spec = folder / SPEC_FILE
    if not (spec.is_file() and (folder / "truth.json").is_file()):
        return False
    return SyntheticSite.model_validate_json(spec.read_text("utf-8")) == site


def generate_sites(spec_path: str | Path, *, only_missing: bool = True) -> dict[str, Path]:
    """Generate every site of the sites file; return each site's folder."""
    spec_path = Path(spec_path)
    spec = read_spec(spec_path)
    out_dir = (spec_path.resolve().parent / spec.out).resolve()
    folders = {}
    for key, site in spec.sites.items():
        folder = out_dir / key
        if not (only_missing and _is_current(folder, site)):
            generate_site(key, site, out_dir)
        folders[key] = folder
    return folders


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate the synthetic partner sites."""
    parser = argparse.ArgumentParser(
        prog="python -m evaluation.pooling.sites",
        description="Generate the synthetic partner sites of the pooling demonstration (five "
        "contract tables and truth.json per site) from a sites file.",
    )
    parser.add_argument(
        "--spec",
        type=Path,
        default=Path("params/benchmarks/sites/sites.yaml"),
        help="sites file (default params/benchmarks/sites/sites.yaml)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="regenerate every site (default: only those missing or whose specification changed)",
    )
    args = parser.parse_args(argv)
    try:
        for key, folder in generate_sites(args.spec, only_missing=not args.force).items():
            print(f"{key:>12}: {folder}")
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
