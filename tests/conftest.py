"""Shared fixtures: the Qiqihar scenario, prepared once per session."""

from __future__ import annotations

import pytest

from simulator.experiments.prepared import prepare
from tests.helpers import QIQIHAR


@pytest.fixture(scope="session")
def qiqihar():
    """The validated Qiqihar scenario (build models with ``qiqihar.model(k)``)."""
    return prepare(QIQIHAR)


@pytest.fixture(scope="module")
def no_charts():
    """Runs without the indicator, summary and family stock-flow charts (tested elsewhere: test_cli,
    test_plots, test_flows); use with ``pytestmark = pytest.mark.usefixtures("no_charts")``."""
    import simulator.report.charts as charts
    import simulator.report.flows_chart as flows_chart

    with pytest.MonkeyPatch.context() as m:
        m.setattr(charts, "indicator_chart_tasks", lambda *a, **k: [])
        m.setattr(charts, "summary_chart_tasks", lambda *a, **k: [])
        m.setattr(flows_chart, "family_chart_tasks", lambda *a, **k: [])
        yield
