"""Each amount rule pays what its clause says (000 若干政策措施 第4条)."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.config import InstrumentSetting, load_catalogue
from simulator.errors import InputError
from simulator.policies import Event, build_instrument
from tests.helpers import SCENARIOS

pytestmark = pytest.mark.core
CATALOGUE = SCENARIOS / "policies" / "000_qiqihar.yaml"
SEED_FILE = SCENARIOS.parent.parent / "shared" / "seeds" / "000_9b00245553ae58f3.txt"


def _instrument(iid: str, **setting):
    cat = load_catalogue(CATALOGUE)
    spec = next(s for s in cat.instruments if s.id == iid)
    return build_instrument(spec, InstrumentSetting(**setting), "scenario.yaml", str(CATALOGUE), cat.payer)


def test_hte_award_by_size_class_and_halved_on_recertification():
    award = _instrument("q000_m4_hte_award")
    ev = Event("hte_certified", np.arange(4), above_scale=np.array([True, False, True, False]),
               first=np.array([True, True, False, False]))
    assert award.amount(ev).tolist() == [10.0, 5.0, 5.0, 2.5]


def test_purchase_subsidy_rate_minimum_and_cap():
    sub = _instrument("q000_m4_tech_purchase")
    base = np.array([9.99, 10.0, 50.0, 100.0, 1000.0, 20.0])
    eligible = np.array([True, True, True, True, True, False])
    ev = Event("tech_purchase", np.arange(6), above_scale=np.ones(6, bool), base=base, eligible=eligible)
    assert sub.amount(ev) == pytest.approx([0.0, 3.0, 15.0, 30.0, 30.0, 0.0])


def test_scale_and_years_are_scenario_settings():
    award = _instrument("q000_m4_hte_award", scale=2.0, start_year=2024, end_year=2026)
    ev = Event("hte_certified", np.arange(1), above_scale=np.array([True]), first=np.array([True]))
    assert award.amount(ev).tolist() == [20.0]
    assert [award.active(y) for y in (2023, 2024, 2026, 2027)] == [False, True, True, False]
    assert not _instrument("q000_m4_hte_award", enabled=False).active(2025)


def test_catalogue_starts_when_the_document_was_issued():
    cat = load_catalogue(CATALOGUE)
    assert str(cat.issued) == "2023-03-02"
    assert all(s.start_year == 2023 for s in cat.instruments)


def test_unknown_amount_parameter_is_rejected_with_suggestion():
    with pytest.raises(InputError, match="did you mean 'first_above_scale'"):
        _instrument("q000_m4_hte_award", params={"first_above_scal": 20})


@pytest.mark.skipif(not SEED_FILE.is_file(), reason="shared/seeds not beside the repository")
def test_every_quote_occurs_verbatim_in_its_seed_file():
    text = SEED_FILE.read_text("utf-8")
    for spec in load_catalogue(CATALOGUE).instruments:
        assert spec.quote in text, spec.id
