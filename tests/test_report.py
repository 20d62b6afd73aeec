"""report.html (and report.pdf): written by a run, self-contained, complete, and rendered by a real browser.

The browser test drives Debian's headless ``chromium`` through its ``chromedriver`` (installed by .ci/run; no
browser is downloaded at run time). Without them the test is skipped on a developer's machine and fails in CI.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.errors import InputError
from simulator.inputs.series import higher_is_better
from simulator.jobs import write_run
from simulator.model.indicators import INDICATORS
from simulator.report.document import REPORT_HTML, REPORT_PDF, write_pdf, write_report
from tests.helpers import QIQIHAR, SCENARIOS

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    """A small finished run (3 replicates to 2026, every variant), with the report its run wrote."""
    out = tmp_path_factory.mktemp("report") / "qiqihar"
    write_run(QIQIHAR, out=out, replicates=3, horizon=2026)
    return out


class _Page(HTMLParser):
    """Every URL-bearing attribute, the CSS, and the target rows (attributes and cell texts) of a report."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.css = ""
        self.rows: list[dict] = []
        self.lang = ""
        self._row: dict | None = None
        self._cell: list[str] | None = None
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang", "")
        for key in ("src", "href", "srcset", "poster", "data"):
            if key in attrs:
                self.urls.append((tag, key, attrs[key] or ""))
        if tag == "style":
            self._in_style = True
        if tag == "tr" and "target-row" in (attrs.get("class") or ""):
            self._row = {**attrs, "cells": []}
        if tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False
        if tag == "td" and self._row is not None and self._cell is not None:
            self._row["cells"].append("".join(self._cell).strip())
            self._cell = None
        if tag == "tr" and self._row is not None:
            self.rows.append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_style:
            self.css += data
        if self._cell is not None:
            self._cell.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text("utf-8"))
    return page


def test_run_writes_a_self_contained_report(run_folder):
    path = run_folder / REPORT_HTML
    assert path.is_file()
    assert not list(run_folder.glob(".*.tmp")), "a temporary report file was left behind"
    page = _parse(path)
    assert page.lang == "zh-CN"
    images = [url for tag, key, url in page.urls if tag == "img"]
    assert len(images) == len(list(run_folder.glob("*.png"))) > 0, "every chart of the folder is embedded"
    for tag, key, url in page.urls:
        # nothing is fetched: images are data URIs, links are anchors within the page
        assert url.startswith(("data:", "#")), f"<{tag} {key}> refers outside the file: {url[:80]}"
        assert not re.match(r"(?i)\s*(https?:)?//", url)
    for uri in images:
        assert uri.startswith("data:image/png;base64,")
        assert base64.b64decode(uri.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(?i)url\(\s*['\"]?\s*(https?:|//|file:)", page.css)
    assert "@font-face" in page.css and "data:font/otf;base64," in page.css, "the Chinese font is embedded"
    assert path.stat().st_size < 3_000_000, "charts are embedded at screen size, not 300 dpi"


def test_report_shows_every_target_of_targets_csv_with_its_probability(run_folder):
    targets = pd.read_csv(run_folder / "targets.csv")
    rows = {(r.get("data-indicator"), r.get("data-year"), r.get("data-variant")): r["cells"]
            for r in _parse(run_folder / REPORT_HTML).rows}
    assert len(rows) == len(targets)
    for t in targets.itertuples():
        year = None if pd.isna(t.target_year) else str(int(t.target_year))
        cells = rows[(t.indicator, year, t.variant)]
        assert f"{100 * t.probability_met:.0f}%" in cells, (t.indicator, t.variant, cells)
        if t.indicator != "all_targets":   # distance: median as % of target (target as % of median for a rank)
            up = higher_is_better(t.indicator, INDICATORS)
            share = t.median / t.target_value if up else t.target_value / t.median
            assert f"{100 * share:.0f}%" in cells


def test_report_lists_the_regions_not_modelled_targets_and_the_provenance(run_folder):
    html = (run_folder / REPORT_HTML).read_text("utf-8")
    region = yaml.safe_load((SCENARIOS / "regions" / "qiqihar_zone.yaml").read_text("utf-8"))
    assert region["not_modelled"], "the Qiqihar region file lists targets it does not model"
    for entry in region["not_modelled"]:
        assert entry["why"] in html
    manifest = pd.read_json(run_folder / "manifest.json", typ="series")
    assert str(manifest["seed"]) in html and str(manifest["git_commit"] or "–") in html
    assert f"innosim rerun {run_folder}" in html, "commands name the final folder, not the one assembled"
    from simulator.inputs.parameters import parameter_specs

    for spec in parameter_specs().values():   # every assumption and calibrated parameter, with its source
        assert (f"<code>{spec.name}</code>" in html) == (spec.kind in ("assumption", "calibrated")), spec.name


@pytest.fixture(scope="module")
def en_folder(run_folder, tmp_path_factory) -> Path:
    """A copy of the run whose report was rewritten in English by ``innosim report``."""
    folder = tmp_path_factory.mktemp("report_en") / "qiqihar"
    shutil.copytree(run_folder, folder)
    (folder / REPORT_HTML).unlink()
    assert main(["report", str(folder), "--lang", "en"]) == 0
    return folder


def test_english_report_and_cli(en_folder, tmp_path, capsys):
    assert _parse(en_folder / REPORT_HTML).lang == "en"
    html = (en_folder / REPORT_HTML).read_text("utf-8")
    assert "Which instrument moves what" in html and "规划目标能否达到" not in html
    assert f"innosim rerun {en_folder}" in html
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such output folder" in capsys.readouterr().err


def test_a_folder_that_is_not_a_finished_run_is_refused(run_folder, tmp_path):
    folder = tmp_path / "partial"
    shutil.copytree(run_folder, folder)
    (folder / "targets.csv").unlink()
    with pytest.raises(InputError, match="targets.csv"):
        write_report(folder)


def test_pdf_of_the_report(run_folder, tmp_path):
    pytest.importorskip("weasyprint", reason="PDF needs the [pdf] extra (WeasyPrint)")
    pdf = tmp_path / REPORT_PDF
    write_pdf((run_folder / REPORT_HTML).read_text("utf-8"), pdf)   # (the step `innosim report --pdf` adds)
    data = pdf.read_bytes()
    assert data[:5] == b"%PDF-"
    assert data.rstrip().endswith(b"%%EOF") and len(data) > 200_000, "a complete PDF with the charts"


def _browser(tmp_path: Path):
    if not (CHROMIUM.is_file() and CHROMEDRIVER.exists()):
        message = f"headless Chromium needs {CHROMIUM} and {CHROMEDRIVER} (Debian packages chromium, chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message + "; .ci/run installs them")
        pytest.skip(message)
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1200,1000",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_chart_renders_in_a_real_browser(run_folder, en_folder, tmp_path, lang):
    folder = run_folder if lang == "zh" else en_folder
    driver = _browser(tmp_path)
    try:
        driver.get((folder / REPORT_HTML).resolve().as_uri())
        driver.execute_async_script("const done = arguments[0]; document.fonts.ready.then(() => done(true));")
        images = driver.find_elements("css selector", "img")
        assert len(images) == len(list(folder.glob("*.png"))) > 0
        for img in images:
            driver.execute_script("arguments[0].scrollIntoView();", img)
            state = driver.execute_script(
                "const i = arguments[0], r = i.getBoundingClientRect();"
                "return {complete: i.complete, natural: i.naturalWidth, width: r.width, height: r.height};", img)
            name = img.get_attribute("alt")
            assert state["complete"] and state["natural"] > 0, f"chart {name} did not decode"
            assert img.is_displayed() and state["width"] > 100 and state["height"] > 50, f"chart {name} not shown"
        # the embedded Chinese font was used, so Chinese text is not drawn as empty boxes
        assert driver.execute_script("return [...document.fonts].some(f => f.family.includes('innosim-cjk') "
                                     "&& f.status === 'loaded');")
        driver.execute_script("window.scrollTo(0, 0);")
        shot = tmp_path / f"report_{lang}.png"
        assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    finally:
        driver.quit()
