"""Interrupted and failing runs (issue 7): an ensemble killed with kill -9 or Ctrl-C resumes with
--resume to exactly the uninterrupted result; a replicate that raises is reported and the others
finish; an existing output folder is never overwritten without --force."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import simulator.model.firm_rules as rules
from simulator.cli import main
from simulator.commands import EXIT_FAILED_REPLICATES
from simulator.experiments.checkpoints import saved_replicates
from simulator.jobs import write_run

ROOT = Path(__file__).resolve().parents[1]
QIQIHAR = ROOT / "scenarios" / "qiqihar.yaml"
#: files whose bytes must not depend on interruptions (charts and the manifest's timestamp may)
RESULT_FILES = ("indicators.csv", "summary.csv", "targets.csv", "additionality.csv", "payments.csv",
                "failures.csv")
RUN = ["--replicates", "24", "--horizon", "2027", "--lang", "en"]


pytestmark = pytest.mark.usefixtures("no_charts")   # (tests/conftest.py)


def _same_results(a: Path, b: Path) -> None:
    for name in RESULT_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "qiqihar"
    write_run(QIQIHAR, out=out, replicates=24, horizon=2027, lang="en")
    return out


def _start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator", "run", str(QIQIHAR), *RUN, "--jobs", "2",
                             "--quiet", "--out", str(out), *extra],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)   # own process group: the workers die with it


def _wait_for_chunks(out: Path, proc: subprocess.Popen, n: int = 1, timeout: float = 120) -> list[Path]:
    chunks = out.with_name(f".{out.name}.run") / "chunks"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = sorted(chunks.glob("chunk_*.pkl")) if chunks.is_dir() else []
        if len(found) >= n:
            return found
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("no chunk was saved in time")


def test_kill_9_then_resume_gives_the_uninterrupted_result(tmp_path, uninterrupted):
    out = tmp_path / "qiqihar"
    proc = _start(out)
    _wait_for_chunks(out, proc)
    os.killpg(proc.pid, signal.SIGKILL)          # the parent and its workers, at once
    proc.wait(timeout=30)
    run_dir = out.with_name(".qiqihar.run")
    assert not out.exists(), "a killed run must not leave a folder that looks finished"
    saved = sorted((run_dir / "chunks").glob("chunk_*.pkl"))
    assert saved and len(saved_replicates(run_dir / "chunks")) < 24, "killed part-way"

    # a plain re-run refuses to start beside the interrupted one, naming --resume
    code = main(["run", str(QIQIHAR), *RUN, "--out", str(out)])
    assert code == 2 and not out.exists()

    assert main(["run", str(QIQIHAR), *RUN, "--out", str(out), "--resume", "--jobs", "2"]) == 0
    _same_results(out, uninterrupted)
    assert not run_dir.exists(), "the checkpoint goes once the folder is in place"
    assert not list(tmp_path.glob(".*.partial"))


def test_ctrl_c_then_resume(tmp_path, uninterrupted):
    out = tmp_path / "qiqihar"
    proc = _start(out)
    _wait_for_chunks(out, proc)
    os.killpg(proc.pid, signal.SIGINT)           # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:                     # finished before the signal arrived: nothing to test
        pytest.skip("the run finished before the interrupt")
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err, err
    assert not out.exists()
    assert main(["run", str(QIQIHAR), *RUN, "--out", str(out), "--resume"]) == 0
    _same_results(out, uninterrupted)


def _interrupt_after_first_chunk(monkeypatch):
    """Make the next run in this process stop like a Ctrl-C right after saving its first chunk."""
    import simulator.experiments.ensemble as ens
    save = ens.save_chunk

    def save_then_interrupt(folder, part):
        save(folder, part)
        raise KeyboardInterrupt

    monkeypatch.setattr(ens, "save_chunk", save_then_interrupt)


def test_resume_refuses_a_checkpoint_of_other_inputs(tmp_path, capsys, monkeypatch):
    scen = tmp_path / "scenarios"
    shutil.copytree(ROOT / "scenarios", scen)
    out = tmp_path / "out"
    args = ["run", str(scen / "qiqihar.yaml"), "--replicates", "3", "--horizon", "2023", "--out", str(out)]
    with monkeypatch.context() as m:
        _interrupt_after_first_chunk(m)
        assert main(args) == 130
    assert (tmp_path / ".out.run" / "run.json").is_file() and not out.exists()
    text = (scen / "qiqihar.yaml").read_text("utf-8").replace("scale: 2.0}}", "scale: 2.5}}", 1)
    (scen / "qiqihar.yaml").write_text(text, "utf-8")
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    err = capsys.readouterr().err
    assert f"the input file {scen / 'qiqihar.yaml'} changed" in err and "--resume" in err, err   # names the file
    assert "Traceback" not in err, err
    assert not out.exists()
    assert main([*args, "--force"]) == 0, "--force starts over"
    assert (out / "manifest.json").is_file() and not (tmp_path / ".out.run").exists()


def test_resume_in_process_equals_an_uninterrupted_run(tmp_path, monkeypatch):
    args = ["run", str(QIQIHAR), "--replicates", "3", "--horizon", "2024", "--lang", "en"]
    with monkeypatch.context() as m:
        _interrupt_after_first_chunk(m)
        assert main([*args, "--out", str(tmp_path / "a")]) == 130
    assert main([*args, "--out", str(tmp_path / "a"), "--resume"]) == 0
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    _same_results(tmp_path / "a", tmp_path / "b")


def test_existing_output_is_never_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "qiqihar"
    args = ["run", str(QIQIHAR), "--replicates", "1", "--horizon", "2022", "--out", str(out)]
    assert main(args) == 0
    (out / "planner_notes.txt").write_text("mine")     # something only the first folder has
    capsys.readouterr()
    assert main(args) == 0
    err = capsys.readouterr().err
    assert (out / "planner_notes.txt").read_text() == "mine", "the first folder is untouched"
    assert (tmp_path / "qiqihar-2" / "manifest.json").is_file()
    assert "qiqihar-2" in err and "--force" in err
    assert main([*args, "--force"]) == 0
    assert (out / "manifest.json").is_file() and not (out / "planner_notes.txt").exists(), "--force replaces it"
    assert not (tmp_path / "qiqihar-3").exists()


# ------------------------------------------------------------------ failing replicates
@pytest.fixture
def nan_in_replicate_1(monkeypatch):
    """Plant a NaN in one firm's revenue in 2024 of replicate 1 (every variant), in this process."""
    grow = rules.grow

    def planted(model, rng):
        grow(model, rng)
        if model.year == 2024 and model.rng.bit_generator.seed_seq.spawn_key == (1,):
            model.firms.revenue[3] = np.nan

    monkeypatch.setattr(rules, "grow", planted)


def test_a_failing_replicate_is_reported_and_the_others_finish(tmp_path, capsys, nan_in_replicate_1):
    out = tmp_path / "qiqihar"
    code = main(["run", str(QIQIHAR), "--replicates", "3", "--horizon", "2026", "--out", str(out), "--lang", "en"])
    err = capsys.readouterr().err
    assert code == EXIT_FAILED_REPLICATES
    assert "4 of 12 runs failed" in err and "failures.csv" in err
    failures = pd.read_csv(out / "failures.csv")
    assert sorted(failures["variant"]) == sorted(["base", "no_policy", "double_hte_award",
                                                  "talent_instead_of_awards"])
    assert set(failures["replicate"]) == {1} and set(failures["year"]) == {2024}
    assert set(failures["error"]) == {"NumericalError"}
    assert failures["message"].str.contains("revenue").all()
    assert failures["seed"].str.contains("spawn_key=(1,)", regex=False).all()
    assert (failures["parameters"] == "defaults").all()
    table = pd.read_csv(out / "indicators.csv")
    assert sorted(table["replicate"].unique()) == [0, 2], "the failed replicate is left out, the others kept"
    targets = pd.read_csv(out / "targets.csv")
    assert set(targets["replicates"]) == {2}
    import json
    meta = json.loads((out / "manifest.json").read_text("utf-8"))
    assert meta["failed_runs"] == 4 and meta["runs"] == 12


def test_every_replicate_failing_is_an_error_and_writes_nothing(tmp_path, capsys, monkeypatch):
    def broken(model, rng):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(rules, "grow", broken)
    out = tmp_path / "qiqihar"
    code = main(["run", str(QIQIHAR), "--replicates", "2", "--horizon", "2024", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "every one of the 8 runs failed" in err and "ZeroDivisionError" in err
    assert "Traceback" not in err
    assert not out.exists() and not list(tmp_path.iterdir())
