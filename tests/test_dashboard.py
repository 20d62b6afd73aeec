"""``innosim dashboard`` in a real browser, and the mix it builds (simulator/mix.py).

The browser test starts the dashboard server in a subprocess on a free 127.0.0.1 port and drives
Debian's headless chromium with its chromedriver (``.ci/run`` installs both; nothing is downloaded):
a bad lever value gets the error a file with that value gets; then a changed lever is run, the mix
is downloaded, ``innosim run`` runs the downloaded file, and every median and probability the page
shows must equal the CLI's targets.csv (and the cost its additionality.csv).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from simulator.analysis import mix
from simulator.errors import InputError
from simulator.experiments.prepared import prepare

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,2400")


# ------------------------------------------------------------------ the mix, without a browser
def _linked(folder: Path) -> Path:
    """A scenario folder whose regions/ and policies/ are the repository's (where a downloaded mix is saved)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("regions", "policies"):
        (folder / name).symlink_to(SCENARIOS / name, target_is_directory=True)
    return folder


def test_mix_file_round_trips_through_prepare(tmp_path):
    original = prepare(SCENARIOS / "qiqihar.yaml")
    form = mix.default_form(original)
    form["levers"]["q000_m4_hte_award"].update(scale="2.5", budget="300", end_year="2027")
    form["levers"]["q000_m9_graduate_allowance"]["enabled"] = False
    path = _linked(tmp_path / "scenarios") / "qiqihar_dashboard.yaml"
    path.write_text(mix.mix_yaml(original, form), "utf-8")
    variants = prepare(path).variants()
    assert list(variants) == ["base", "no_policy", mix.AS_WRITTEN]
    chosen = {i.id: i for i in variants["base"].instruments()}
    assert (chosen["q000_m4_hte_award"].scale, chosen["q000_m4_hte_award"].budget,
            chosen["q000_m4_hte_award"].end_year) == (2.5, 300.0, 2027)
    assert not chosen["q000_m9_graduate_allowance"].enabled
    written = [lv.setting() for lv in mix.levers(original)]
    assert [lv.setting() for lv in mix.levers(variants[mix.AS_WRITTEN])] == written   # the plan as written
    assert all(not i.enabled for i in variants["no_policy"].instruments())


@pytest.mark.parametrize("name", ["sys_baoqing", "baotou", "heilongjiang"])
def test_form_as_first_shown_is_a_valid_scenario(tmp_path, name):
    """The form as it opens (horizon at the last target year, even where an instrument starts later, e.g. 001's
    purchase subsidy from 2025 in a county whose targets are for 2023) runs, and changes nothing."""
    original = prepare(SCENARIOS / f"{name}.yaml")
    form = mix.default_form(original)
    assert mix.changes(original, form) == []
    prepared = mix.check_mix(original, mix.mix_yaml(original, form), tmp_path)
    assert prepared.scenario.replicates == min(mix.DEFAULT_REPLICATES, original.scenario.replicates)
    variants = prepared.variants()
    settings = [[lv.setting() for lv in mix.levers(variants[v])] for v in ("base", mix.AS_WRITTEN)]
    assert settings[0] == settings[1] == [lv.setting() for lv in mix.levers(original)]


@pytest.mark.parametrize(("field", "text", "problem"), [
    ("scale", "-1", "must be >= 0"),
    ("budget", "3亿", "a number with a unit"),
    ("start_year", "soon", "policies.q000_m4_hte_award.start_year"),
])
def test_bad_form_value_gets_the_error_a_file_gets(tmp_path, field, text, problem):
    original = prepare(SCENARIOS / "qiqihar.yaml")
    form = mix.default_form(original)
    form["levers"]["q000_m4_hte_award"][field] = text
    body = mix.mix_yaml(original, form)
    with pytest.raises(InputError) as from_form:
        mix.check_mix(original, body, tmp_path / "work")
    path = _linked(tmp_path / "scenarios") / "mix.yaml"
    path.write_text(body, "utf-8")
    with pytest.raises(InputError) as from_file:
        prepare(path)
    assert problem in str(from_form.value)
    assert str(from_form.value).startswith(f"{mix.FORM}: policies.q000_m4_hte_award.{field}: ")
    # the same field, problem, value and what is allowed: only the file name (and its line) differ
    assert str(from_form.value).split(": ", 1)[1] == re.sub(r"^.*?: line \d+: ", "", str(from_file.value))


def _file_error(tmp_path: Path, scenario: str, lever: str, field: str, text: str) -> str:
    """The message ``innosim run`` gives for a mix file with that value, the file's name and line replaced
    by the form's name."""
    original = prepare(SCENARIOS / f"{scenario}.yaml")
    form = mix.default_form(original)
    form["levers"][lever][field] = text
    path = _linked(tmp_path / "bad") / "bad.yaml"
    path.write_text(mix.mix_yaml(original, form), "utf-8")
    with pytest.raises(InputError) as caught:
        prepare(path)
    return f"{mix.FORM}: " + re.sub(r"^.*?: line \d+: ", "", str(caught.value))


# ------------------------------------------------------------------ the browser
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dashboard(tmp_path):
    """The dashboard server, as a user starts it, on a free port; stopped (with its children) at the end."""
    if not (CHROMIUM.is_file() and CHROMEDRIVER.is_file()):
        message = "needs Debian's chromium and chromium-driver (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "simulator", "dashboard", "--port", str(port),
                                   "--scenarios", str(SCENARIOS)], cwd=tmp_path, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, f"the dashboard server exited: {log.read_text()}"
            try:
                urllib.request.urlopen(url, timeout=5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, f"the dashboard did not answer on {url}: {log.read_text()}"
                time.sleep(0.5)
        yield url, log
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert server.poll() is not None
    # it stopped cleanly: the session folders (mix files, charts) went with it
    assert not (Path(tempfile.gettempdir()) / f"innosim-dashboard-{server.pid}").exists()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium-profile'}")
    options.binary_location = str(CHROMIUM)
    options.add_experimental_option("prefs", {"download.default_directory": str(tmp_path / "downloads"),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)   # never a downloaded driver
    try:
        yield driver
    finally:
        driver.quit()


def _wait(driver, css: str, timeout: float = 60.0, text: str | None = None):
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in driver.find_elements(By.CSS_SELECTOR, css) if text is None or text in e.text]
        if found:
            return found[0]
        time.sleep(0.25)
    raise AssertionError(f"{css!r} did not appear within {timeout} s")


def _type(driver, css: str, value: str, echo: str) -> None:
    """Type ``value`` into a field and wait until the page's list of changes shows ``echo`` (the server has it)."""
    from selenium.webdriver.common.keys import Keys

    field = _wait(driver, css)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value)
    _wait(driver, ".changes", text=echo, timeout=30)


def _shown(driver, table_id: str) -> pd.DataFrame:
    """A results table as the page shows it (text cells)."""
    from selenium.webdriver.common.by import By

    table = driver.find_element(By.ID, table_id)
    head = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    rows = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")] for tr in table.find_elements(By.CSS_SELECTOR,
                                                                                                   "tbody tr")]
    return pd.DataFrame(rows, columns=head)


def test_dashboard_in_chromium_shows_what_innosim_run_computes(dashboard, browser, tmp_path):
    url, log = dashboard
    browser.get(url)
    _wait(browser, ".lever-q000_m4_hte_award-scale input", timeout=90)   # qiqihar first
    # a county of 004 附件2: targets in 2023, so the ensemble and the CLI's charts are small
    _wait(browser, ".scenario-select").click()
    _wait(browser, ".menuable__content__active .v-list-item", text="sys_baoqing").click()
    lever = "sys004_31_tech_sme_registration"
    scale = f".lever-{lever}-scale input"
    _wait(browser, scale)

    # a bad value: the error names the field as it would for a file, and nothing runs
    _type(browser, scale, "-1", f"{lever} scale: 1 → -1")
    _wait(browser, ".run-button").click()
    error = _wait(browser, ".form-error", text=f"policies.{lever}.scale").text
    assert f"dashboard form: policies.{lever}.scale: must be >= 0; got -1" in error
    assert error == _file_error(tmp_path, "sys_baoqing", lever, "scale", "-1")   # what innosim run says of a file
    assert not browser.find_elements("css selector", "#targets-table")

    # the lever moved: the tech-SME registration award (004 三.1) doubled, a tiny ensemble to the targets' year
    _type(browser, scale, "2", f"{lever} scale: 1 → 2")
    _type(browser, ".run-replicates input", "3", "3 replicates ·")
    downloads = tmp_path / "downloads"
    _wait(browser, ".download-button").click()
    deadline = time.monotonic() + 30
    while not list(downloads.glob("*.yaml")) and time.monotonic() < deadline:
        time.sleep(0.2)
    saved = list(downloads.glob("*.yaml"))
    assert [p.name for p in saved] == ["sys_baoqing_dashboard.yaml"]
    scenario = _linked(tmp_path / "scenarios") / saved[0].name
    scenario.write_bytes(saved[0].read_bytes())
    cli = subprocess.Popen([sys.executable, "-m", "simulator", "run", str(scenario), "--out", str(tmp_path / "cli"),
                            "--quiet", "--no-report"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)

    _wait(browser, ".run-button").click()
    _wait(browser, "#targets-table", timeout=120)
    _wait(browser, ".chart", timeout=60)
    assert not browser.find_elements("css selector", ".form-error")
    shown = _shown(browser, "targets-table")
    cost = _shown(browser, "cost-table")
    browser.save_screenshot(str(tmp_path / "dashboard.png"))
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000

    assert cli.wait(timeout=180) == 0, cli.stderr.read()
    targets = pd.read_csv(tmp_path / "cli" / "targets.csv")
    assert set(targets["replicates"].dropna()) == {3}
    for variant, label in (("base", "mix"), (mix.AS_WRITTEN, "as written"), ("no_policy", "no policy")):
        rows = targets[targets["variant"] == variant].reset_index(drop=True)
        assert list(shown["indicator"]) == list(rows["indicator"])
        for i, row in rows.iterrows():
            assert shown.loc[i, f"{label}: P(met)"] == f"{row.probability_met:.0%}"
            if not pd.isna(row["median"]):
                assert shown.loc[i, f"{label}: median"] == f"{row['median']:.2f}"
    additionality = pd.read_csv(tmp_path / "cli" / "additionality.csv")
    cli_cost = additionality.groupby("variant", sort=False)["cost_median"].first()
    assert list(cost["cost (万元)"]) == [f"{v:,.0f}" for v in cli_cost]
    assert cli_cost["base"] > cli_cost[mix.AS_WRITTEN] > 0   # a doubled award costs more than the plan's
    assert "2023" in shown["year"].tolist()

    assert "Could not load URL" not in log.read_text()   # every script and font came from the server
