"""What a new user reads: help for every option, --version, the scenario list, parameter sources that
resolve inside the repository, no stale text about calibration."""

from __future__ import annotations

import argparse
import json
import re
from importlib import metadata

import pytest
import yaml

from simulator.cli import build_parser, main
from tests.helpers import ROOT, SCENARIOS

pytestmark = pytest.mark.core


def _parsers(parser: argparse.ArgumentParser, name: str = "innosim"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, child in action.choices.items():
                yield from _parsers(child, f"{name} {sub}")


def test_every_command_line_option_has_help():
    missing = [f"{name} {action.option_strings or action.dest}"
               for name, parser in _parsers(build_parser()) for action in parser._actions
               if not isinstance(action, argparse._HelpAction | argparse._SubParsersAction)
               and not (action.help and action.help.strip())]
    assert not missing, f"options without help: {missing}"


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"innosim {metadata.version('innosim')}"


def test_scenarios_command_lists_every_scenario_file(capsys):
    assert main(["scenarios", "--scenarios", str(SCENARIOS)]) == 0
    out = capsys.readouterr().out
    files = sorted(SCENARIOS.glob("*.yaml"))
    for path in files:
        assert str(path) in out
    assert "region qiqihar_zone" in out and "double_hte_award" in out
    assert out.strip().endswith(f"{len(files)} scenario files")


#: a file named in a source: a path with a known extension
FILE = re.compile(r"[\w./-]+\.(?:md|yaml|yml|csv|json|py|txt)\b")


def test_every_parameter_source_resolves_inside_the_repository():
    """Sources cited ../shared/DOMAIN.md and EVIDENCE.md (not in a clone) and 'calibrate in issue 5'."""
    params = yaml.safe_load((ROOT / "simulator" / "data" / "parameters.yaml").read_text("utf-8"))
    entries = params.get("parameters", params)
    sources = {name: str(entry["source"]) for name, entry in entries.items() if isinstance(entry, dict)
               and "source" in entry}
    assert len(sources) > 50
    for name, source in sources.items():
        for file in FILE.findall(source):
            assert (ROOT / file).is_file(), f"{name}: source names {file}, which is not in the repository"
        assert "DOMAIN.md" not in source and "EVIDENCE.md" not in source, name
        assert "issue 5" not in source, f"{name}: stale 'issue 5' (calibration exists)"
    cited = "".join(sources.values())
    assert "docs/domain.md" in cited and "docs/evidence.md" in cited


def test_quickstart_notebook_does_not_say_calibration_is_pending():
    nb = json.loads((ROOT / "notebooks" / "01_quickstart.ipynb").read_text("utf-8"))
    text = " ".join("".join(cell["source"]) for cell in nb["cells"])
    assert "Until calibration" not in text and "issue 5" not in text
    assert "calibrat" in text.lower()
