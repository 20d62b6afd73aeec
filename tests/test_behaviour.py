"""Direction and reproducibility: more subsidy never means fewer certifications; same seed, same table."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.helpers import prepared_with

SEEDS = range(8)


def _value(df: pd.DataFrame, indicator: str, year: int) -> float:
    return float(df[(df.indicator == indicator) & (df.year == year)]["value"].iloc[0])


def _run(prepared, seed: int, until: int) -> pd.DataFrame:
    return prepared.model(seed).run(until).indicators()


@pytest.mark.core
def test_larger_hte_award_does_not_lower_certifications_in_its_first_year():
    """2023 is the award's first year: states up to 2022 are identical, so the comparison is exact per seed."""
    base = prepared_with()
    rich = prepared_with({"q000_m4_hte_award": {"scale": 4.0}})
    for seed in SEEDS:
        a, b = _run(base, seed, 2023), _run(rich, seed, 2023)
        assert _value(a, "hte_count", 2022) == _value(b, "hte_count", 2022)
        first_a = _value(a, "hte_new_certifications", 2023) + _value(a, "hte_recertifications", 2023)
        first_b = _value(b, "hte_new_certifications", 2023) + _value(b, "hte_recertifications", 2023)
        assert first_b >= first_a


def test_larger_hte_award_does_not_lower_certifications_over_the_plan_period():
    """Over a fixed set of seeds, the HTE count in 2025 and 2030 is not lower with a 4x award."""
    base = prepared_with()
    rich = prepared_with({"q000_m4_hte_award": {"scale": 4.0}})
    for year in (2025, 2030):
        total_a = sum(_value(_run(base, s, year), "hte_count", year) for s in SEEDS)
        total_b = sum(_value(_run(rich, s, year), "hte_count", year) for s in SEEDS)
        assert total_b >= total_a, year


def test_awards_move_certifications_at_all():
    """The mechanism is live: a very large award raises certifications by 2025."""
    none = prepared_with({"q000_m4_hte_award": {"enabled": False}})
    huge = prepared_with({"q000_m4_hte_award": {"params": {"first_above_scale": 500, "first_below_scale": 500}}})
    total_none = sum(_value(_run(none, s, 2025), "hte_count", 2025) for s in SEEDS)
    total_huge = sum(_value(_run(huge, s, 2025), "hte_count", 2025) for s in SEEDS)
    assert total_huge > total_none


@pytest.mark.core
def test_purchase_subsidy_raises_technology_purchases_in_its_first_year():
    on = prepared_with()
    off = prepared_with({"q000_m4_tech_purchase": {"enabled": False}})
    for seed in SEEDS:
        a, b = _run(off, seed, 2023), _run(on, seed, 2023)
        assert _value(b, "tech_purchase_value", 2023) >= _value(a, "tech_purchase_value", 2023)


@pytest.mark.core
def test_same_seed_gives_identical_table(qiqihar):
    a = qiqihar.model(3).run().indicators()
    b = qiqihar.model(3).run().indicators()
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.core
def test_different_seeds_give_different_tables(qiqihar):
    a = qiqihar.model(3).run(2026).indicators()
    b = qiqihar.model(4).run(2026).indicators()
    assert not a["value"].equals(b["value"])
    # ... but both start from the same published baseline
    for name in ("gdp", "hte_count", "rd_intensity"):
        assert _value(a, name, 2021) == pytest.approx(_value(b, name, 2021))


@pytest.mark.core
def test_switching_an_instrument_off_removes_its_payments_and_nothing_before_it_starts():
    """Without 000's HTE award (from 2023) its payments are gone, and every year before 2023 is paid
    exactly as with it (the provincial award pays from 2020 in both)."""
    on = prepared_with()
    off = prepared_with({"q000_m4_hte_award": {"enabled": False}})
    for seed in (0, 1, 2):
        m_on, m_off = on.model(seed).run(2024), off.model(seed).run(2024)
        p_on, p_off = m_on.government.payments(), m_off.government.payments()
        assert "q000_m4_hte_award" in set(p_on["instrument"])
        assert "q000_m4_hte_award" not in set(p_off["instrument"])
        before_on = p_on[p_on.year < 2023].reset_index(drop=True)
        pd.testing.assert_frame_equal(before_on, p_off[p_off.year < 2023].reset_index(drop=True))
        assert len(before_on) > 0


def test_new_type_institution_award_raises_foundings():
    """000 第8条 pays 50 万元 to a new-type R&D institution: with it, more institutions are founded by 2030."""
    on = prepared_with()
    off = prepared_with({"q000_m8_new_rd_institution": {"enabled": False},
                         "q000_m8_provincial_new_rd_award": {"enabled": False}})
    total_on = sum(_value(_run(on, s, 2030), "rd_institution_count", 2030) for s in SEEDS)
    total_off = sum(_value(_run(off, s, 2030), "rd_institution_count", 2030) for s in SEEDS)
    assert total_on >= total_off
    big = prepared_with({"q000_m8_new_rd_institution": {"scale": 20.0}})
    assert sum(_value(_run(big, s, 2030), "rd_institution_count", 2030) for s in SEEDS) > total_off
