"""Faults of the machine and the environment, hostile input and signals (issue 17).

Each fault ends in one ``innosim: error:`` line naming the file, field or path and what to do,
with the documented exit status, no traceback, no orphan process and nothing half-written that
looks finished; where replicates were saved before the fault, ``--resume`` then gives tables
identical bit for bit to an uninterrupted run.

The disk faults are real: a full tmpfs (ENOSPC), a file-size limit (EFBIG, ``RLIMIT_FSIZE`` as
``ulimit -f`` sets it), a tmpfs remounted read-only; tests that need root to mount one are
skipped without it. Concurrency and signals use real processes.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import simulator.experiments.ensemble as ens
from simulator.cli import main
from simulator.experiments.backends import available_cpus, usable_jobs
from simulator.experiments.checkpoints import saved_replicates
from simulator.jobs import write_run
from tests.helpers import QIQIHAR, ROOT, SCENARIOS

#: a small ensemble (4 variants): the checkpoint gets chunks of 4, 2, 1 and 1 replicates with --jobs 1
N, HORIZON = 8, 2024
RUN = ["--replicates", str(N), "--horizon", str(HORIZON), "--lang", "en", "--quiet"]
_original_save = ens.save_chunk
RESULT_FILES = ("indicators.csv", "summary.csv", "targets.csv", "additionality.csv", "payments.csv",
                "failures.csv")


pytestmark = pytest.mark.usefixtures("no_charts")   # (tests/conftest.py)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted run of the small ensemble."""
    out = tmp_path_factory.mktemp("ref") / "qiqihar"
    write_run(QIQIHAR, out=out, replicates=N, horizon=HORIZON, lang="en")
    return out


def _cli(*argv: object) -> tuple[int, str]:
    """Exit status and stderr of ``innosim argv`` in this process; an exception escaping main() fails."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = main([str(a) for a in argv])
        except Exception as exc:   # noqa: BLE001 - exactly what must never happen
            pytest.fail(f"exception escaped main({argv}): {exc!r}")
    return code, err.getvalue()


def _one_line(code: int, err: str, *words: str, status: int = 2) -> None:
    assert code == status, (code, err)
    lines = [line for line in err.splitlines() if line.startswith("innosim: error: ")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for word in words:
        assert word in lines[0], (word, err)


def _nothing_finished(out: Path, killed: bool = False) -> None:
    """No folder that looks finished, no assembly left, no part-written chunk.

    ``killed``: after kill -9, which no handler sees, a chunk the parent was writing at that instant
    may remain under its temporary name; a resumed run never reads it (only ``chunk_*.pkl`` are loaded).
    """
    assert not out.exists(), f"{out} looks finished"
    assert not out.with_name(f".{out.name}.partial").exists()
    chunks = out.parent / f".{out.name}.run" / "chunks"
    left = list(chunks.glob("*.tmp"))
    if killed:
        from simulator.experiments.checkpoints import saved_replicates
        assert len(left) <= 1
        saved = saved_replicates(chunks)
        for tmp in left:                               # its replicates count as not done: they are rerun
            first, last = (int(x) for x in tmp.stem.split("_")[1:])
            assert not set(range(first, last + 1)) & saved, tmp.name
    else:
        assert not left


def _same_results(a: Path, b: Path) -> None:
    for name in RESULT_FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _after_first_chunk(monkeypatch, action) -> None:
    """Run ``action()`` once, right after the next run saves its first chunk (the fault then hits the rest)."""
    save = ens.save_chunk
    done = []

    def save_then_act(folder, part):
        path = save(folder, part)
        if not done:
            done.append(path)
            action()
        return path

    monkeypatch.setattr(ens, "save_chunk", save_then_act)


# ------------------------------------------------------------------ disks and folders
@contextlib.contextmanager
def _tmpfs(where: Path, size: str = "8m"):
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], check=True,
                       capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


def _fill(folder: Path) -> Path:
    """Fill the file system of ``folder`` until it is full."""
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 16))
                fh.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_keeps_saved_replicates_then_resume_is_identical(tmp_path, reference, monkeypatch):
    with _tmpfs(tmp_path / "disk") as disk:
        out = disk / "qiqihar"
        fill = {}
        _after_first_chunk(monkeypatch, lambda: fill.setdefault("file", _fill(disk)))
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out)
        _one_line(code, err, str(disk), "no space left", "--resume")
        _nothing_finished(out)
        run_dir = disk / ".qiqihar.run"
        assert 0 < len(saved_replicates(run_dir / "chunks")) < N
        fill["file"].unlink()                       # space freed: continue
        monkeypatch.setattr(ens, "save_chunk", _original_save)
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out, "--resume")
        assert code == 0, err
        _same_results(out, reference)
        assert not run_dir.exists()


def test_file_size_limit_keeps_saved_replicates_then_resume_is_identical(tmp_path, reference, monkeypatch):
    out = tmp_path / "qiqihar"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    # after the first chunk, no file may grow beyond 1 kB (ulimit -f 1); Python ignores SIGXFSZ, so a
    # write past the limit fails with EFBIG
    _after_first_chunk(monkeypatch, lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (1024, hard)))
    try:
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    _one_line(code, err, "file-size limit", "ulimit -f", "--resume")
    _nothing_finished(out)
    assert 0 < len(saved_replicates(tmp_path / ".qiqihar.run" / "chunks")) < N
    monkeypatch.setattr(ens, "save_chunk", _original_save)
    code, err = _cli("run", QIQIHAR, *RUN, "--out", out, "--resume")
    assert code == 0, err
    _same_results(out, reference)


def test_read_only_file_system_new_folder_and_force(tmp_path, reference):
    with _tmpfs(tmp_path / "ro") as disk:
        earlier = disk / "earlier"
        shutil.copytree(reference, earlier)           # an earlier innosim output, then the disk goes read-only
        before = {f.name: f.read_bytes() for f in earlier.iterdir()}
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True, timeout=30)
        code, err = _cli("run", QIQIHAR, *RUN, "--out", disk / "new")
        _one_line(code, err, str(disk), "read-only", "--out")
        assert not (disk / "new").exists()
        code, err = _cli("run", QIQIHAR, *RUN, "--out", earlier, "--force")
        _one_line(code, err, str(disk), "read-only")
        assert {f.name: f.read_bytes() for f in earlier.iterdir()} == before, "the earlier output is untouched"


def test_out_whose_parent_is_a_file(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    code, err = _cli("run", QIQIHAR, *RUN, "--out", tmp_path / "notes.txt" / "qiqihar")
    _one_line(code, err, str(tmp_path / "notes.txt"), "not a folder", "--out")
    assert (tmp_path / "notes.txt").read_text() == "x"


def test_unwritable_out(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    out = locked / "qiqihar"
    if os.geteuid() != 0:
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out)
    else:   # root may write anywhere: drop the capability to, as a user without write permission has
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        proc = subprocess.run([setpriv, "--bounding-set", "-dac_override", "--", sys.executable, "-m", "simulator",
                               "run", str(QIQIHAR), *RUN, "--out", str(out)],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        code, err = proc.returncode, proc.stderr
    _one_line(code, err, str(locked), "permission denied", "--out")
    assert not out.exists()


def test_unreachable_scheduler(tmp_path):
    with socket.socket() as sock:   # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    t0 = time.monotonic()
    code, err = _cli("run", QIQIHAR, *RUN, "--out", tmp_path / "q", "--scheduler", f"tcp://127.0.0.1:{port}")
    _one_line(code, err, f"tcp://127.0.0.1:{port}", "no Dask scheduler answers", "--scheduler")
    assert time.monotonic() - t0 < 60, "refused at once, not after the client's retries"
    assert not list(tmp_path.iterdir()), "nothing written"
    code, err = _cli("run", QIQIHAR, *RUN, "--out", tmp_path / "q", "--scheduler", "localhost")
    _one_line(code, err, "--scheduler", "tcp://host:port")
    code, err = _cli("sensitivity", QIQIHAR, "--samples", "2", "--replicates", "1", "--out", tmp_path / "s",
                     "--scheduler", f"tcp://127.0.0.1:{port}")
    _one_line(code, err, f"tcp://127.0.0.1:{port}", "no Dask scheduler answers")
    assert not list(tmp_path.iterdir()), "nothing written"


# ------------------------------------------------------------------ processes: locks and signals
def _start(out: Path, *extra: str, jobs: int = 2) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "simulator", "run", str(QIQIHAR), *RUN, "--jobs", str(jobs),
                             "--out", str(out), *extra], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_chunk(out: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    chunks = out.with_name(f".{out.name}.run") / "chunks"
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if chunks.is_dir() and list(chunks.glob("chunk_*.pkl")):
            return
        if proc.poll() is not None:
            pytest.fail(f"the run ended before saving a chunk: {proc.communicate()}")
        time.sleep(0.02)
    raise AssertionError("no chunk was saved in time")


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (from /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _workers(pid: int) -> set[int]:
    """The spawned worker processes below ``pid`` (not multiprocessing's resource tracker)."""
    found = set()
    for child in _descendants(pid):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"   # a zombie has stopped; only its exit status is left


def _assert_no_orphans(pids: set[int], timeout: float = 20) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and any(_alive(p) for p in pids):
        time.sleep(0.05)
    assert not [p for p in pids if _alive(p)], "worker processes outlived the run"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_second_run_into_the_same_folder_is_refused_then_sigterm_to_the_parent(tmp_path, reference):
    """Two real processes into one --out: the second is refused at once; then SIGTERM to the first
    (its parent process only, as ``kill PID`` does) stops its workers, and --resume completes it."""
    out = tmp_path / "qiqihar"
    first = _start(out)
    try:
        _wait_for_chunk(out, first)
        assert _workers(first.pid), "--jobs 2 runs worker processes"
        workers = _descendants(first.pid)   # the workers and multiprocessing's resource tracker
        second = subprocess.run([sys.executable, "-m", "simulator", "run", str(QIQIHAR), *RUN, "--out", str(out)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)
        _one_line(second.returncode, second.stderr, str(out), "another innosim run is writing", f"{first.pid}")
        os.kill(first.pid, signal.SIGTERM)      # the parent alone: it must stop its workers itself
        _, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    if first.returncode == 0:
        pytest.skip("the first run finished before SIGTERM arrived")
    assert first.returncode == 143 and "terminated" in err and "--resume" in err and "Traceback" not in err, err
    _assert_no_orphans(workers)
    _nothing_finished(out)
    assert not out.with_name(".qiqihar.lock").exists(), "the lock goes with the run"
    code, err = _cli("run", QIQIHAR, *RUN, "--out", out, "--resume")
    assert code == 0, err
    _same_results(out, reference)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("group", [True, False], ids=["sigterm-to-the-group", "kill-9-of-the-parent"])
def test_workers_stop_with_the_parent(tmp_path, group):
    """SIGTERM to the process group (a batch system's time limit, systemd) ends parent and workers
    cleanly (status 143); kill -9 of the parent alone, which no handler sees, still ends the workers
    (the kernel's parent-death signal)."""
    sig = signal.SIGTERM if group else signal.SIGKILL
    out = tmp_path / "qiqihar"
    proc = _start(out)
    try:
        _wait_for_chunk(out, proc)
        assert _workers(proc.pid), "--jobs 2 runs worker processes"
        workers = _descendants(proc.pid)
        if group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == (143 if sig == signal.SIGTERM else -signal.SIGKILL), err
    assert "Traceback" not in err, err
    _assert_no_orphans(workers)
    _nothing_finished(out, killed=not group)


# ------------------------------------------------------------------ hostile YAML and bad input
def _tree(tmp_path: Path) -> Path:
    """A copy of scenarios/ to edit."""
    dest = tmp_path / "scenarios"
    shutil.copytree(SCENARIOS, dest, ignore=shutil.ignore_patterns("optimise", "*.py"))
    return dest


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_alias_bomb_is_refused_quickly(tmp_path):
    tree = _tree(tmp_path)
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]   # 10^9 entries
    bomb = tree / "bomb.yaml"
    # in a field that takes any value (a parameter override), where copying the scenario would expand it
    bomb.write_text("name: bomb\nregion: qiqihar_zone\nparameters:\n  rd_price_elasticity:\n"
                    + "".join(f"    {line}\n" for line in levels), "utf-8")
    t0 = time.monotonic()
    code, err = _cli("run", bomb, *RUN, "--out", tmp_path / "out")
    _one_line(code, err, str(bomb), "alias bomb")
    assert time.monotonic() - t0 < 15
    huge = tree / "huge.yaml"
    huge.write_text("name: huge\nregion: qiqihar_zone\n" + "#" * 3_000_000 + "\n", "utf-8")
    _one_line(*_cli("run", huge, "--out", tmp_path / "out"), str(huge), "too large")
    assert not (tmp_path / "out").exists()


SCENARIO_CASES = {
    "start_year after the horizon": (
        "  q000_m4_hte_award: {enabled: true, scale: 1.0}",
        "  q000_m4_hte_award: {enabled: true, scale: 1.0, start_year: 2040}",
        ["policies.q000_m4_hte_award.start_year", "never pay", "<= 2024"]),
    "end_year before start_year": (
        "  q000_m4_hte_award: {enabled: true, scale: 1.0}",
        "  q000_m4_hte_award: {enabled: true, scale: 1.0, start_year: 2025, end_year: 2023}",
        ["policies.q000_m4_hte_award.end_year", "ends before it starts"]),
    "scale 1e308": (
        "  q000_m4_hte_award: {enabled: true, scale: 1.0}",
        "  q000_m4_hte_award: {enabled: true, scale: 1.0e+308}",
        ["policies.q000_m4_hte_award.scale", "<= 1000"]),
    "budget 1e308": (
        "  q000_m4_hte_award: {enabled: true, scale: 1.0}",
        "  q000_m4_hte_award: {enabled: true, budget: 1.0e+308}",
        ["policies.q000_m4_hte_award.budget"]),
    "region path escaping the tree": (
        "region: qiqihar_zone", "region: ../../regions/qiqihar_zone", ["region", "no folders"]),
    "variant names differing by case": (
        "  double_hte_award:", "  Talent_Instead_Of_Awards:\n    policies: {}\n  double_hte_award:",
        ["talent_instead_of_awards", "only by case or look-alike"]),
    "variant name a look-alike of base": (
        "  double_hte_award:", "  ｂａｓｅ:\n    policies: {}\n  double_hte_award:",
        ["ｂａｓｅ", "'base'"]),
    "variant name mixing Latin and Cyrillic": (
        "  double_hte_award:", "  d\u043euble_hte_award:", ["mixes Cyrillic and Latin letters"]),
    "invisible character in a key": (
        "seed: 20230302", "seed\u200b: 20230302", ["seed\\u200b", "unknown key"]),
}


@pytest.mark.parametrize("case", list(SCENARIO_CASES))
def test_scenario_input_refused(tmp_path, case):
    old, new, words = SCENARIO_CASES[case]
    tree = _tree(tmp_path)
    _edit(tree / "qiqihar.yaml", old, new)
    _one_line(*_cli("run", tree / "qiqihar.yaml", *RUN, "--out", tmp_path / "out"), "qiqihar.yaml", *words)
    assert not (tmp_path / "out").exists()


FILE_CASES = {
    "R&D intensity 100 %": ("regions/qiqihar_zone.yaml", "rd_intensity: {value: 3,", "rd_intensity: {value: 100,",
                            ["baseline.rd_intensity.value", "below 100"]),
    "unreachable R&D target": ("regions/qiqihar_zone.yaml", "{indicator: rd_intensity, year: 2025, value: 4,",
                               "{indicator: rd_intensity, year: 2025, value: 100,", ["targets", "unreachable"]),
    "rank target 0": ("regions/qiqihar_zone.yaml", "  - {indicator: rd_intensity, year: 2025, value: 4,",
                      "  - {indicator: national_rank, year: 2025, value: 0, unit: 位, source: x}\n"
                      "  - {indicator: rd_intensity, year: 2025, value: 4,", ["targets", "rank target", "from 1"]),
    "baseline 1e308": ("regions/qiqihar_zone.yaml", "gdp: {value: 120,", "gdp: {value: 1.0e+308,",
                       ["baseline.gdp.value", "beyond any regional figure"]),
    "catalogue path escaping the tree": ("regions/qiqihar_zone.yaml", "policy_catalogues: [000_qiqihar",
                                         "policy_catalogues: [../../policies/000_qiqihar",
                                         ["policy_catalogues", "no folders"]),
    "catalogue end_year before start_year": ("policies/000_qiqihar.yaml", "    start_year: 2023\n    end_year: null",
                                             "    start_year: 2023\n    end_year: 2022",
                                             ["000_qiqihar.yaml", "end_year", "ends before it starts"]),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_region_and_catalogue_input_refused(tmp_path, case):
    file, old, new, words = FILE_CASES[case]
    tree = _tree(tmp_path)
    _edit(tree / file, old, new)
    _one_line(*_cli("run", tree / "qiqihar.yaml", *RUN, "--out", tmp_path / "out"), Path(file).name, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("jobs", ["0", "-3"])
def test_jobs_below_one_refused(tmp_path, jobs):
    _one_line(*_cli("run", QIQIHAR, *RUN, "--jobs", jobs, "--out", tmp_path / "out"), "--jobs", "at least 1")
    assert not (tmp_path / "out").exists()


def test_jobs_above_the_cores_clamped_with_a_note():
    notes: list[str] = []
    cpus = available_cpus()
    assert usable_jobs(cpus + 500, notes.append) == cpus
    assert notes and f"--jobs {cpus + 500}" in notes[0] and f"using {cpus}" in notes[0]
    assert usable_jobs(1, notes.append) == 1 and len(notes) == 1


def test_resume_with_force_refused(tmp_path):
    _one_line(*_cli("run", QIQIHAR, *RUN, "--resume", "--force", "--out", tmp_path / "out"), "--resume", "--force")


# ------------------------------------------------------------------ messages
def test_directory_given_as_a_file(tmp_path):
    _one_line(*_cli("run", tmp_path, *RUN), str(tmp_path), "is a directory")


def test_symlink_loop_region(tmp_path):
    tree = _tree(tmp_path)
    loop = tree / "regions" / "loop.yaml"
    loop.symlink_to(loop.name)
    _edit(tree / "qiqihar.yaml", "region: qiqihar_zone", "region: loop")
    code, err = _cli("run", tree / "qiqihar.yaml", *RUN, "--out", tmp_path / "out")
    _one_line(code, err, "loop.yaml", "loop of symbolic links")
    assert "did you mean" not in err
    loop.unlink()
    (tree / "regions" / "loop.yaml").symlink_to(tmp_path / "missing.yaml")
    _one_line(*_cli("run", tree / "qiqihar.yaml", *RUN, "--out", tmp_path / "out"), "missing.yaml")


def test_resume_after_an_edit_names_the_file(tmp_path, monkeypatch):
    tree = _tree(tmp_path)
    scenario, out = tree / "qiqihar.yaml", tmp_path / "out"

    def interrupt():
        raise KeyboardInterrupt

    _after_first_chunk(monkeypatch, interrupt)
    assert _cli("run", scenario, *RUN, "--out", out)[0] == 130
    region = tree / "regions" / "qiqihar_zone.yaml"
    region.write_text(region.read_text("utf-8") + "\n# edited\n", "utf-8")
    code, err = _cli("run", scenario, *RUN, "--out", out, "--resume")
    _one_line(code, err, "--resume", f"the input file {region} changed")


@pytest.mark.parametrize("edit", ["missing options", "options not a mapping", "seed text", "lang", "hashes a list",
                                  "scenario_file number", "repository_root number"])
def test_rerun_of_a_damaged_manifest(tmp_path, reference, edit):
    folder = tmp_path / "run"
    shutil.copytree(reference, folder)
    meta = json.loads((folder / "manifest.json").read_text("utf-8"))
    field = {"missing options": "options", "options not a mapping": "options", "seed text": "options.seed",
             "lang": "options.lang", "hashes a list": "input_sha256", "scenario_file number": "scenario_file",
             "repository_root number": "repository_root"}[edit]
    if edit == "missing options":
        del meta["options"]
    elif edit == "options not a mapping":
        meta["options"] = ["seed", 1]
    elif edit == "seed text":
        meta["options"]["seed"] = "forty-two"
    elif edit == "lang":
        meta["options"]["lang"] = "fr"
    elif edit == "hashes a list":
        meta["input_sha256"] = ["a", "b"]
    elif edit == "repository_root number":
        meta["repository_root"] = 3
    else:
        meta["scenario_file"] = 7
    (folder / "manifest.json").write_text(json.dumps(meta), "utf-8")
    _one_line(*_cli("rerun", folder), "manifest.json", field)
    assert not folder.with_name("run-rerun").exists()


def test_interrupted_dask_run_leaves_no_client_or_task(tmp_path, monkeypatch, reference):
    """An interrupt during a Dask run closes its client: the scheduler is left with no task of it,
    and the replicates saved before it resume to the uninterrupted tables."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
                                  dashboard_address=None) as cluster:
        out = tmp_path / "qiqihar"

        def interrupt():
            raise KeyboardInterrupt

        _after_first_chunk(monkeypatch, interrupt)
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out, "--scheduler", cluster.scheduler_address)
        assert code == 130 and "--resume" in err, err
        t0 = time.monotonic()
        while cluster.scheduler.tasks and time.monotonic() - t0 < 30:
            time.sleep(0.05)
        assert not cluster.scheduler.tasks, "tasks of the interrupted run left on the scheduler"
        assert not [c for c in distributed.client._global_clients.values() if c.status != "closed"]
        _nothing_finished(out)
        monkeypatch.setattr(ens, "save_chunk", _original_save)
        code, err = _cli("run", QIQIHAR, *RUN, "--out", out, "--resume", "--scheduler", cluster.scheduler_address)
        assert code == 0, err
    _same_results(out, reference)
