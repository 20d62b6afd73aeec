"""An output folder is written beside its destination and replaces it only when complete."""

from __future__ import annotations

import pytest

from simulator.experiments.outputs import staged_folder


def test_a_finished_folder_replaces_the_old_one(tmp_path):
    dest = tmp_path / "out" / "run"
    dest.mkdir(parents=True)
    (dest / "old.txt").write_text("old")
    with staged_folder(dest) as tmp:
        assert tmp.parent == dest.parent and tmp != dest
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in dest.iterdir()] == ["new.txt"]
    assert sorted(p.name for p in dest.parent.iterdir()) == ["run"]   # no partial or old folder left


def test_a_failed_write_leaves_the_old_folder_and_no_partial(tmp_path):
    dest = tmp_path / "run"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError), staged_folder(dest) as tmp:
        (tmp / "new.txt").write_text("new")
        raise RuntimeError("boom")
    assert [p.name for p in dest.iterdir()] == ["old.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
