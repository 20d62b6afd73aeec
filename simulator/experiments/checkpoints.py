"""Checkpoints and resume: finished chunks saved as they arrive, and the run fingerprint that guards reusing them."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from pathlib import Path

from simulator.errors import InputError
from simulator.experiments.outputs import file_sha256, input_files, input_key, output_folder, versions
from simulator.experiments.prepared import Prepared
from simulator.experiments.replicates import ChunkResult


def save_chunk(folder: str | Path, part: ChunkResult) -> Path:
    """Save one finished chunk in ``folder`` atomically (written under a temporary name, then renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"chunk_{part.replicates[0]:06d}_{part.replicates[-1]:06d}.pkl"
    tmp = path.with_suffix(".tmp")
    try:
        with open(tmp, "wb") as fh:
            pickle.dump(part, fh, protocol=pickle.HIGHEST_PROTOCOL)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:   # a full disk or a file-size limit: no part-written chunk is left behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def saved_replicates(folder: str | Path) -> set[int]:
    """Replicates the chunks in ``folder`` hold, read from their names (``chunk_<first>_<last>.pkl``, which a
    chunk gets only once written whole: :func:`save_chunk`), without loading them."""
    folder = Path(folder)
    spans = [path.stem.split("_")[1:] for path in folder.glob("chunk_*.pkl")] if folder.is_dir() else []
    return {k for first, last in spans for k in range(int(first), int(last) + 1)}


def load_checkpoint(folder: str | Path) -> list[ChunkResult]:
    """The chunks saved in ``folder`` (none if it does not exist); a file cut short by a kill is ignored."""
    folder = Path(folder)
    parts = []
    for path in sorted(folder.glob("chunk_*.pkl")) if folder.is_dir() else []:
        try:
            with open(path, "rb") as fh:
                part = pickle.load(fh)
        except (EOFError, pickle.UnpicklingError, AttributeError, ValueError):
            continue
        if isinstance(part, ChunkResult) and part.replicates:
            parts.append(part)
    return parts


def run_fingerprint(prepared: Prepared, options: dict) -> dict:
    """What determines an ensemble's results: the inputs (hashes), seed, replicates and horizon, and the
    code and package versions. A checkpoint is resumed only under the same fingerprint."""
    files = input_files(prepared)
    code = hashlib.sha256()
    package = Path(__file__).resolve().parents[1]
    for file in sorted([*package.rglob("*.py"), *package.glob("data/*.yaml")]):
        code.update(file.relative_to(package).as_posix().encode() + b"\0" + file.read_bytes())
    return {"scenario_file": input_key(prepared.scenario_path),
            "input_sha256": {input_key(p): file_sha256(p) for p in files},
            "seed": prepared.scenario.seed, "replicates": prepared.scenario.replicates,
            "horizon": prepared.scenario.horizon, "variants": list(prepared.variants()),
            "code_sha256": code.hexdigest(), "versions": versions()}


def destination(requested: Path, fingerprint: dict, *, force: bool, resume: bool, echo) -> tuple[Path, Path]:
    """The output folder and its checkpoint folder.

    See :func:`simulator.jobs.write_run` for the rules.
    """
    candidates = [requested] + [requested.with_name(f"{requested.name}-{k}") for k in range(2, 1000)]
    if resume:
        for folder in candidates:
            run_dir = _run_dir(folder)
            if not run_dir.is_dir():
                if not folder.exists():
                    break
                continue
            saved = _read_run(run_dir)
            if saved is None:
                continue
            if saved["fingerprint"] != fingerprint:
                raise InputError(run_dir, "--resume", f"{_what_changed(saved['fingerprint'], fingerprint)} since "
                                 "the interrupted run there, so its replicates cannot be reused",
                                 allowed="the same scenario, files and options; or run without --resume "
                                         "(--force starts it over)")
            done = len(saved_replicates(run_dir / "chunks"))
            echo(f"resuming {run_dir}: {done} of {fingerprint['replicates']} replicates already done")
            return Path(saved["destination"]), run_dir
        echo("nothing to resume: no interrupted run of this scenario was found; starting")
    dest = output_folder(requested, force, echo)
    run_dir = _run_dir(dest)
    if run_dir.exists():
        if not force and not dest.exists():
            saved = _read_run(run_dir)
            done = len(saved_replicates(run_dir / "chunks"))
            total = saved["fingerprint"].get("replicates", "?") if saved else "?"
            raise InputError(run_dir, "", f"an interrupted run of this output is here ({done} of {total} "
                             "replicates saved)", allowed="--resume to continue it, or --force to start over")
        shutil.rmtree(run_dir)
    return dest, run_dir


def _what_changed(old: dict, new: dict) -> str:
    """The first difference between two run fingerprints, in words naming the file, option or package."""
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if key == "input_sha256" and isinstance(before, dict):
            changed = sorted(f for f in set(before) | set(value) if before.get(f) != value.get(f))
            return f"the input file {', '.join(changed)} changed"
        if key == "code_sha256":
            return "the innosim code changed"
        if key == "versions" and isinstance(before, dict):
            changed = sorted(p for p in set(before) | set(value) if before.get(p) != value.get(p))
            return "package versions changed (" + ", ".join(f"{p} {before.get(p)} -> {value.get(p)}"
                                                           for p in changed) + ")"
        return f"{key} changed ({before!r} -> {value!r})"
    return "the fingerprint changed"


def _run_dir(folder: Path) -> Path:
    return folder.with_name(f".{folder.name}.run")


def _read_run(run_dir: Path) -> dict | None:
    try:
        saved = json.loads((run_dir / "run.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return saved if isinstance(saved, dict) and "fingerprint" in saved and "destination" in saved else None


def _atomic_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(text, "utf-8")
        os.replace(tmp, path)
    except BaseException:   # e.g. a full disk: no part-written file is left
        tmp.unlink(missing_ok=True)
        raise


def record_run(run_dir: Path, dest: Path, fingerprint: dict) -> None:
    """Create the checkpoint folder ``run_dir`` with its run.json (destination and fingerprint), unless a
    resumed run left one there."""
    run_dir.mkdir(parents=True, exist_ok=True)
    info = run_dir / "run.json"
    if not info.is_file():
        _atomic_text(info, json.dumps({"destination": str(dest), "fingerprint": fingerprint}, ensure_ascii=False,
                                      indent=2))


def resume_hint(run_dir: Path | None, prepared: Prepared) -> str:
    """What to run next after a fault, when some replicates are saved."""
    done = len(saved_replicates(run_dir / "chunks")) if run_dir is not None else 0
    if not done:
        if run_dir is not None:   # nothing worth resuming: the next plain run must not be refused beside it
            shutil.rmtree(run_dir, ignore_errors=True)
        return "nothing was written"
    return (f"{done} of {prepared.scenario.replicates} replicates are saved in {run_dir}: the same command "
            "with --resume continues from them; no result folder was written")
