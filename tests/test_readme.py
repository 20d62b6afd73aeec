"""The README's examples work as a new user would use them."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

from tests.helpers import ROOT


def _python_block() -> str:
    """The README's "From Python" code block, with 2 replicates instead of 5 (speed)."""
    text = (ROOT / "README.md").read_text("utf-8")
    match = re.search(r"## From Python\n.*?```python\n(.*?)```", text, re.S)
    assert match, "README.md has no python block under '## From Python'"
    code = match.group(1)
    assert "replicates=5" in code
    return code.replace("replicates=5", "replicates=2")


def _run_script(tmp_path, code: str) -> subprocess.CompletedProcess:
    script = tmp_path / "api.py"
    script.write_text(code, "utf-8")
    # from the repository root, as the README says: the block's paths are relative to it
    return subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_readme_python_block_runs_as_a_script(tmp_path):
    code = _python_block()
    assert "jobs=2" in code   # the case that used to break: worker processes started from a script
    proc = _run_script(tmp_path, code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    assert "hte_count" in proc.stdout


def test_script_without_main_guard_falls_back_to_one_process_with_one_warning(tmp_path):
    """The README block with its `if __name__ == "__main__":` guard removed: spawned workers would run
    the script again (BrokenProcessPool before); now it runs in the script's process and says why once."""
    code = _python_block()
    head, guarded = code.split('if __name__ == "__main__":', 1)
    body = guarded.split("\n", 1)[1]
    proc = _run_script(tmp_path, head + textwrap.dedent(body))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "BrokenProcessPool" not in proc.stderr and "Traceback" not in proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "RuntimeWarning: innosim: jobs=2" in line]
    assert len(warnings) == 1, proc.stderr
    assert 'if __name__ == "__main__":' in warnings[0] and "api.py:" in warnings[0]
