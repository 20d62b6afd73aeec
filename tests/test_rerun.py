"""`innosim rerun` regenerates a folder from any working directory (paths in the manifest are relative to
the repository root), and refuses when an input changed."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.cli import main
from tests.helpers import ROOT


def test_rerun_works_from_another_directory_and_another_clone(tmp_path, monkeypatch, capsys):
    """Before: `cd /tmp && innosim rerun <abs path>` said "input changed or missing" (paths were kept as
    typed, relative to where the run started)."""
    monkeypatch.chdir(ROOT)
    a = tmp_path / "a"
    assert main(["run", "scenarios/qiqihar.yaml", "--replicates", "2", "--horizon", "2024", "--out", str(a),
                 "--quiet"]) == 0
    meta = json.loads((a / "manifest.json").read_text("utf-8"))
    assert meta["scenario_file"] == "scenarios/qiqihar.yaml"
    assert "scenarios/regions/qiqihar_zone.yaml" in meta["input_sha256"]
    assert not any(Path(k).is_absolute() for k in meta["input_sha256"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    capsys.readouterr()
    assert main(["rerun", str(a), "--out", str(tmp_path / "b")]) == 0
    assert "identical" in capsys.readouterr().out
    # as if run in another clone (its root recorded there no longer exists here): same commit, same files
    meta["repository_root"] = str(tmp_path / "another" / "clone")
    (a / "manifest.json").write_text(json.dumps(meta), "utf-8")
    assert main(["rerun", str(a), "--out", str(tmp_path / "c")]) == 0
    assert "identical" in capsys.readouterr().out


def test_rerun_refuses_when_an_input_changed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    a = tmp_path / "a"
    assert main(["run", "scenarios/qiqihar.yaml", "--replicates", "1", "--horizon", "2023", "--out", str(a),
                 "--quiet"]) == 0
    meta = json.loads((a / "manifest.json").read_text("utf-8"))
    meta["input_sha256"]["scenarios/regions/qiqihar_zone.yaml"] = "0" * 64    # as if the file had changed since
    (a / "manifest.json").write_text(json.dumps(meta), "utf-8")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["rerun", str(a), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "qiqihar_zone.yaml" in err and "changed or missing" in err
    assert not (tmp_path / "b").exists()
