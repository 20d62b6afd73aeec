"""Output folders and their manifests: where a run writes, what it records, and reading that back to rerun."""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from simulator.errors import InputError
from simulator.experiments.prepared import Prepared
from simulator.inputs.parameters import calibrated_draw, calibrated_path

MANIFEST = "manifest.json"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def git_commit() -> str | None:
    """The commit this package runs from (``-dirty`` with uncommitted changes); ``None`` outside git."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=Path(__file__).parent,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


def versions() -> dict[str, str]:
    """Versions of Python and the packages that determine results."""
    out = {"python": platform.python_version()}
    for pkg in ("innosim", "mesa", "numpy", "pandas", "scipy", "matplotlib", "pydantic", "PyYAML"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def input_files(prepared: Prepared) -> list[Path]:
    """Every file a run's results depend on: scenario, region, policy catalogues and, when it is in use,
    calibration/calibrated.yaml (default parameter values and draws come from it)."""
    files = [prepared.scenario_path, prepared.region_path, *prepared.policy_files]
    calibrated = calibrated_path()
    if calibrated is not None and calibrated.is_file():
        files.append(calibrated)
    return files


#: the repository this package runs from (its scenarios/, calibration/): input paths are recorded relative to it
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def input_key(path: Path) -> str:
    """How a run records an input file: relative to the repository root (POSIX separators) when the file
    is inside it, so the folder reruns from any working directory and from another clone; else absolute."""
    full = Path(path).resolve()
    try:
        return full.relative_to(PROJECT_ROOT).as_posix()
    except ValueError:
        return str(full)


def _project_of(folder: Path) -> Path | None:
    """The innosim repository a folder lies in (the nearest parent with pyproject.toml and scenarios/)."""
    for parent in [folder.resolve(), *folder.resolve().parents]:
        if (parent / "pyproject.toml").is_file() and (parent / "scenarios").is_dir():
            return parent
    return None


def resolve_input(key: str, digest: str | None, manifest_path: Path, recorded_root: str | None) -> Path | None:
    """The file a manifest's input ``key`` names: itself if absolute; else the first of the repository this
    package runs from, the repository the output folder lies in, the repository recorded at run time and
    the working directory (manifests before paths were recorded relative kept them as typed) where the
    file exists, with ``digest`` when given. ``None`` when no candidate has it."""
    path = Path(key)
    if path.is_absolute():
        candidates = [path]
    else:
        roots = [PROJECT_ROOT, _project_of(manifest_path.parent), Path(recorded_root) if recorded_root else None,
                 Path.cwd()]
        candidates = [root / path for root in roots if root is not None]
    existing = [c for c in candidates if c.is_file()]
    for candidate in existing:
        if digest is None or file_sha256(candidate) == digest:
            return candidate
    return None


def manifest(prepared: Prepared, options: dict) -> dict:
    """Everything needed to regenerate a run: inputs (with hashes), options, parameters, seed, versions."""
    files = input_files(prepared)
    return {
        "tool": "innosim",
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "scenario_file": input_key(prepared.scenario_path),
        "scenario_sha256": file_sha256(prepared.scenario_path),
        "repository_root": str(PROJECT_ROOT),
        "paths": "relative to the repository root (repository_root at run time; innosim rerun looks in the "
                 "repository it runs from and the one the folder lies in), absolute when outside it",
        "options": options,
        "scenario": prepared.scenario.model_dump(mode="json"),
        "variants": list(prepared.variants()),
        "seed": prepared.scenario.seed,
        "replicates": prepared.scenario.replicates,
        "replicate_seeds": "numpy SeedSequence(entropy=seed, spawn_key=(replicate,)), the same for every variant",
        "horizon": prepared.scenario.horizon,
        "base_year": prepared.region.base_year,
        "input_sha256": {input_key(p): file_sha256(p) for p in files},
        "parameters": prepared.params.to_dict(),
        "uncertainty": ("replicates: stochastic (random streams) and parameter (calibrated draws per replicate of "
                        + ", ".join(calibrated_draw(prepared.scenario.seed, 0)) + ")"
                        if prepared.scenario.parameter_uncertainty and calibrated_draw(prepared.scenario.seed, 0) else
                        "replicates: stochastic only (random streams); parameters fixed at their values above"),
        "versions": versions(),
        "git_commit": git_commit(),
        "platform": platform.platform(),
    }


def output_folder(requested: str | Path, force: bool = False, echo=None) -> Path:
    """Where an output folder goes without overwriting anything: ``requested`` if it does not exist
    (or ``force`` and it is an innosim output, which is then replaced), else the first free
    ``<requested>-2``, ``-3``, … (said through ``echo``). A folder that is not an innosim output is
    never written into."""
    requested = Path(requested)
    if requested.exists() and not (requested / MANIFEST).is_file():
        raise InputError(requested, "--out", "exists and is not an innosim output folder; refusing to overwrite it",
                         allowed="a new folder or an earlier innosim output")
    if force or not requested.exists():
        return requested
    dest = next(requested.with_name(f"{requested.name}-{k}") for k in range(2, 10_000)
                if not requested.with_name(f"{requested.name}-{k}").exists())
    if echo is not None:
        echo(f"{requested} exists; writing {dest} (--force replaces {requested})")
    return dest


@contextmanager
def staged_folder(dest: Path) -> Iterator[Path]:
    """A fresh hidden folder beside ``dest`` to write into; on leaving, it replaces ``dest``
    (:func:`replace_folder`), or is removed when the block raises (``dest`` untouched)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        tmp.chmod(0o755)
        yield tmp
        replace_folder(dest, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def replace_folder(dest: Path, tmp: Path) -> None:
    """Move the finished folder ``tmp`` to ``dest`` (an earlier output there is replaced)."""
    if dest.exists():
        old = dest.with_name(f".{dest.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        dest.rename(old)
        try:
            tmp.rename(dest)
        except BaseException:   # the earlier output goes back where it was
            old.rename(dest)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(dest)


#: what rerun reads from a manifest: field -> (check, what is allowed)
_MANIFEST_FIELDS = {
    "scenario_file": (lambda v: isinstance(v, str) and bool(v), "the scenario file's path (text)"),
    "input_sha256": (lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(d, str)
                                                            for k, d in v.items()),
                     "a mapping of file paths to SHA-256 digests"),
    "options": (lambda v: isinstance(v, dict), "a mapping with seed, replicates, horizon and lang"),
    "options.seed": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)), "an integer or null"),
    "options.replicates": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                           "an integer or null"),
    "options.horizon": (lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
                        "an integer or null"),
    "options.lang": (lambda v: v in ("zh", "en"), "zh or en"),
}


#: fields rerun reads when present (null or absent: not used)
_MANIFEST_OPTIONAL = {
    "repository_root": (lambda v: isinstance(v, str), "the repository's path (text) or null"),
    "scenario_sha256": (lambda v: isinstance(v, str), "the scenario's SHA-256 digest (text)"),
}


def _check_manifest(meta: dict, path: Path) -> None:
    """Refuse a manifest whose fields rerun needs are missing or of the wrong type (one line naming
    manifest.json and the field, instead of a KeyError later)."""
    for field, (ok, allowed) in _MANIFEST_OPTIONAL.items():
        if meta.get(field) is not None and not ok(meta[field]):
            raise InputError(path, field, "wrong type or value in the manifest", value=meta[field], allowed=allowed)
    for field, (ok, allowed) in _MANIFEST_FIELDS.items():
        parent, _, key = field.rpartition(".")
        holder = meta.get(parent) if parent else meta
        if not isinstance(holder, dict):
            continue   # reported for the parent
        if key not in holder:
            raise InputError(path, field, "missing from the manifest; it was not written by innosim run (or was "
                             "edited)", allowed=allowed)
        if not ok(holder[key]):
            raise InputError(path, field, "wrong type or value in the manifest", value=holder[key], allowed=allowed)


#: files of an output folder that must be identical when the run is repeated
REPRODUCIBLE = ("indicators.csv", "summary.csv", "targets.csv", "additionality.csv", "payments.csv", "failures.csv")


def rerun_inputs(folder: Path) -> tuple[Path, dict]:
    """The scenario file and options of the run whose manifest is in ``folder``, for rerun.

    Refuses (InputError) a folder that is not a scenario run's output, a manifest missing a field
    or holding one of the wrong type, and an input file changed since the run (its SHA-256 differs).
    """
    path = folder / MANIFEST
    if not path.is_file():
        raise InputError(folder, "", "not an innosim output folder (no manifest.json)", allowed="an output folder")
    try:
        meta = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(path, "", f"not a readable innosim manifest ({type(exc).__name__}: {exc})",
                         allowed="the manifest.json innosim wrote") from None
    missing = [k for k in ("options", "input_sha256", "scenario_file") if not isinstance(meta, dict) or k not in meta]
    if missing and not (isinstance(meta, dict) and meta.get("analysis")):
        raise InputError(path, ", ".join(missing), "missing from the manifest; it was not written by innosim run",
                         allowed="the manifest.json innosim wrote")
    if meta.get("analysis"):
        raise InputError(folder, "", f"a {meta.get('analysis_kind', 'sensitivity or optimiser')} folder, not a "
                         "scenario run; regenerate it with the command in its manifest",
                         allowed=meta.get("command", "an innosim run output folder"))
    _check_manifest(meta, path)
    root = meta.get("repository_root")
    for file, digest in meta["input_sha256"].items():
        if resolve_input(file, digest, path, root) is None:
            raise InputError(file, "", "input changed or missing since the run; cannot reproduce it",
                             allowed=f"the file with SHA-256 {digest[:12]}… (looked in {PROJECT_ROOT}"
                                     + ("" if Path(file).is_absolute() else ", the folder's repository and "
                                        "the working directory") + ")")
    scenario = resolve_input(meta["scenario_file"], meta.get("scenario_sha256"), path, root)
    if scenario is None:
        raise InputError(meta["scenario_file"], "", "scenario changed or missing since the run; cannot reproduce it",
                         allowed="the scenario file the run used")
    return scenario, meta["options"]
