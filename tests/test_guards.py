"""Numerical guards (issue 7): NaN or infinity in any agent state or indicator stops the replicate,
naming the year, the agent type, which agent and the field."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

from simulator.experiments.prepared import prepare
from simulator.model.guards import FLOAT_FIELDS, NumericalError, check_state
from simulator.model.indicators import compute_all
from tests.helpers import SCENARIOS

pytestmark = pytest.mark.core

BAD = [pytest.param(math.nan, id="nan"), pytest.param(math.inf, id="inf"), pytest.param(-math.inf, id="-inf")]


@pytest.fixture(scope="module")
def baotou():
    """A ranked zone: the only region with a zone committee."""
    return prepare(SCENARIOS / "baotou.yaml")


def _model_at(prepared, year: int = 2023):
    model = prepared.model(0)
    model.run(year)
    return model


def _stops(model, *, year: int, agent: str, field: str) -> NumericalError:
    """Step the model once; it must stop with NumericalError naming year, agent type and field."""
    with np.errstate(all="ignore"), pytest.raises(NumericalError) as info:
        model.step()
    err = info.value
    assert (err.year, err.agent, err.field) == (year, agent, field), str(err)
    message = str(err)
    assert message.startswith(f"non-finite state in {year}: {agent}")
    assert f"field {field} = " in message
    assert not math.isfinite(err.value)
    return err


# ------------------------------------------------------------------ clean runs
def test_clean_runs_pass_the_guard(qiqihar, baotou):
    """Every year of an ordinary run passes, agents and recorded indicators included."""
    for prepared in (qiqihar, baotou):
        model = prepared.model(1)
        check_state(model)
        while model.year < 2030:
            model.step()
            check_state(model)                       # the year's record
            check_state(model, compute_all(model))   # freshly computed indicators
        assert [r["year"] for r in model.records] == list(range(2021, 2031))


def test_error_is_a_floating_point_error_and_pickles():
    err = NumericalError(2027, "firm", "rd", math.nan, agent_id=1234)
    assert isinstance(err, FloatingPointError)
    assert str(err) == "non-finite state in 2027: firm uid 1234 field rd = nan"
    back = pickle.loads(pickle.dumps(err))   # crosses ensemble worker processes intact
    assert (back.year, back.agent, back.field, back.agent_id, str(back)) == (2027, "firm", "rd", 1234, str(err))
    indicator = NumericalError(2025, "indicator", "gdp", math.inf)
    assert str(indicator) == "non-finite state in 2025: indicator field gdp = inf"


# ------------------------------------------------------------------ firms
@pytest.mark.parametrize("value", BAD)
@pytest.mark.parametrize("field", FLOAT_FIELDS)
def test_every_float_firm_field_is_checked(qiqihar, field, value):
    """A bad value in any float field of any firm is found and named, with the firm's uid."""
    model = qiqihar.model(0)
    arr = getattr(model.firms, field)
    row = len(model.firms) - 7
    if arr.ndim == 2:          # history: report names the row (k years before)
        arr[2, row] = value
        name = f"{field}[2]"
    else:
        arr[row] = value
        name = field
    with pytest.raises(NumericalError) as info:
        check_state(model)
    err = info.value
    assert (err.year, err.agent, err.field, err.agent_id) == (2021, "firm", name, int(model.firms.uid[row]))
    assert f"firm uid {model.firms.uid[row]} field {name} = {value}" in str(err)


def test_huge_but_finite_firm_values_pass(qiqihar):
    """The fast check sums each field; a sum that overflows is scanned and passes when every value is finite."""
    model = qiqihar.model(0)
    model.firms.knowledge[:3] = 1.7e308
    with np.errstate(over="ignore"):
        check_state(model, indicators=False)


@pytest.mark.parametrize(("field", "value"), [("profit_margin", math.nan), ("knowledge", math.inf),
                                              ("revenue", math.nan)])
def test_bad_firm_value_stops_the_run_in_the_next_year(qiqihar, field, value):
    """Injected in 2023, the value is caught at the end of the 2024 step, naming one of the firms concerned."""
    model = _model_at(qiqihar)
    rows = np.arange(10, 30)
    getattr(model.firms, field)[rows] = value
    uids = set(model.firms.uid[rows].tolist())
    err = _stops(model, year=2024, agent="firm", field=field)
    assert err.agent_id in uids
    assert f"firm uid {err.agent_id} field {field}" in str(err)
    assert not math.isfinite(getattr(model.firm_by_uid(err.agent_id), field))


def test_bad_history_row_is_named_by_its_lag(qiqihar):
    """rd_hist[1] of 2023 is rd_hist[2] of 2024 (histories shift back one row a year)."""
    model = _model_at(qiqihar)
    model.firms.rd_hist[1, :50] = math.inf
    _stops(model, year=2024, agent="firm", field="rd_hist[2]")


# ------------------------------------------------------------------ agents
@pytest.mark.parametrize("value", BAD)
def test_bad_incubator_attribute_stops_the_run(qiqihar, value):
    model = _model_at(qiqihar)
    model.incubators[2].graduates = value
    err = _stops(model, year=2024, agent="incubator", field="graduates")
    assert err.agent_id == 2 and "incubator 2 field graduates" in str(err)


@pytest.mark.parametrize(("field", "value"), [("rd", math.nan), ("external_sales", math.inf)])
def test_bad_institute_attribute_stops_the_run(qiqihar, field, value):
    model = _model_at(qiqihar)
    setattr(model.institutes[3], field, value)
    err = _stops(model, year=2024, agent="institute", field=field)
    assert err.agent_id == 3 and f"institute 3 field {field}" in str(err)


@pytest.mark.parametrize("field", ["rd", "knowledge", "external_sales", "local_sales", "spinoffs"])
def test_every_numeric_agent_attribute_is_checked(qiqihar, field):
    """Checked where the value is found (a NaN knowledge would make next year's technology purchases fail
    before the guard runs again: the guard runs at the end of every year, so it stops the year it appears)."""
    model = qiqihar.model(0)
    setattr(model.institutes[-1], field, -math.inf)
    with pytest.raises(NumericalError) as info:
        check_state(model)
    index = len(model.institutes) - 1
    assert (info.value.agent, info.value.agent_id, info.value.field) == ("institute", index, field)
    model = qiqihar.model(0)
    model.incubators[-1].capacity = np.float32("nan")
    with pytest.raises(NumericalError, match=rf"incubator {len(model.incubators) - 1} field capacity = nan"):
        check_state(model)


def test_bad_zone_committee_attribute_stops_the_run(baotou):
    model = _model_at(baotou)
    model.zone._base["gdp"] = math.inf   # the base-year GDP the national-rank score is measured against
    _stops(model, year=2024, agent="zone", field="_base[gdp]")
    model = baotou.model(0)
    model.zone._z0 = math.nan
    with pytest.raises(NumericalError, match=r"in 2021: zone field _z0 = nan"):
        check_state(model)


def test_bad_payment_stops_the_run(qiqihar):
    """An instrument owing infinity: the government's total of the year is named."""
    model = _model_at(qiqihar)
    award = next(i for i in model.government.instruments if i.id == "q000_m4_hte_award")
    award.amount = lambda event: np.full(len(event), math.inf)
    _stops(model, year=2024, agent="government", field="paid")


def test_bad_model_scalar_is_named_before_the_indicator_it_spoils(qiqihar):
    """other_gdp is an input of the GDP indicator: the report names it, not gdp."""
    model = _model_at(qiqihar)
    model.other_gdp = math.inf
    _stops(model, year=2024, agent="model", field="other_gdp")


# ------------------------------------------------------------------ indicators
def test_non_finite_indicator_stops_the_run(qiqihar):
    """No industrial firm left: the high-tech output share is 0/0 although every agent's state is finite."""
    model = _model_at(qiqihar)
    model.sector_industrial = np.zeros_like(model.sector_industrial)
    err = _stops(model, year=2024, agent="indicator", field="hightech_output_share")
    assert err.agent_id is None and math.isnan(err.value)
    assert [r["year"] for r in model.records] == [2021, 2022, 2023]   # the bad year is not recorded


def test_compute_all_raises_numerical_error(qiqihar):
    model = qiqihar.model(0)
    model.sector_industrial = np.zeros_like(model.sector_industrial)
    with np.errstate(all="ignore"), pytest.raises(NumericalError,
                                                  match=r"in 2021: indicator field hightech_output_share = nan"):
        compute_all(model)


def test_check_state_checks_given_indicators(qiqihar):
    model = qiqihar.model(0)
    check_state(model, {"gdp": 1.0, "national_rank": None})   # None: not applicable to the region
    with pytest.raises(NumericalError, match=r"in 2021: indicator field revenue = inf"):
        check_state(model, {"gdp": 1.0, "revenue": math.inf})
