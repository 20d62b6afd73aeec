"""Report charts (simulator.plots): every chart writes a PNG and an SVG, Chinese renders without
missing glyphs, NaN costs and probabilities are drawn as words, report_charts writes the full set.

Data: a real 3-replicate Qiqihar ensemble to 2026, a second and a no_policy variant faked by
scaling it, and small target / additionality tables built by hand with the runner's columns.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simulator import plots
from simulator.runner import prepare
from tests.helpers import QIQIHAR

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def ensemble():
    """(region, table, targets, additionality) for the chart functions."""
    prepared = prepare(QIQIHAR, horizon=2026)
    base = pd.concat([prepared.model(k).run().indicators("base", k) for k in range(3)], ignore_index=True)
    years = base["year"] - prepared.region.base_year
    variants = [base]
    for name, factor in (("no_policy", 0.95), ("double_hte_award", 1.04)):
        variants.append(base.assign(variant=name, value=base["value"] * factor ** years))
    table = pd.concat(variants, ignore_index=True)
    region = prepared.region
    rows = []
    for v, prob in (("base", (0.0, 0.4, 1.0)), ("no_policy", (0.0, 0.0, np.nan)), ("double_hte_award", (1, 0.7, 1))):
        for t, p in zip(region.targets[:3], prob, strict=True):
            rows.append({"variant": v, "indicator": t.indicator, "target_year": t.year, "target_value": t.value,
                         "unit": t.unit, "source": t.source, "probability_met": p, "median_first_year": np.nan,
                         "median": t.value, "p05": t.value * 0.9, "p95": t.value * 1.1})
        rows.append({"variant": v, "indicator": "all_targets", "probability_met": 0.0 if v != "base" else 0.3})
    targets = pd.DataFrame(rows)
    additionality = pd.DataFrame(
        [(v, o, 2025, extra, extra * 0.5, extra * 1.5, cost, cost / extra if extra > 0 else np.nan, unit)
         for v, cost in (("base", 1800.0), ("double_hte_award", 3400.0))
         for o, extra, unit in (("hte_count", 12.0, "家"), ("rd_intensity", 0.1, "percentage points"),
                                ("gdp", -0.5 if v == "base" else 1.2, "亿元"))],
        columns=["variant", "outcome", "year", "extra_median", "extra_p05", "extra_p95", "cost_median",
                 "cost_per_unit_median", "unit"])
    return region, table, targets, additionality


def assert_png_svg(files, stem):
    """A non-empty PNG and SVG beside each other, named after ``stem``."""
    assert [f.suffix for f in files] == [".png", ".svg"]
    assert all(f.stem == stem and f.is_file() and f.stat().st_size > 1000 for f in files)
    assert files[0].read_bytes()[:8] == PNG_MAGIC
    assert files[1].read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_missing_glyphs_would_be_caught(tmp_path):
    """The warning the Chinese tests guard against exists: Chinese in a Latin-only font raises."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title("高新技术企业", fontfamily="DejaVu Sans")
        with pytest.raises(UserWarning, match="missing from font"):
            fig.savefig(tmp_path / "boxes.png", dpi=20)
        plt.close(fig)


def test_report_charts_zh_full_set_without_missing_glyphs(ensemble, tmp_path):
    region, table, targets, additionality = ensemble
    region = region.model_copy(update={"targets": region.targets[:1]})   # gdp only: keeps the test fast
    assert plots.cjk_font() is not None, "the bundled Noto Sans CJK SC must load, else zh falls back to en"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)   # "Glyph ... missing from font(s)" would fail here
        files = plots.report_charts(table, targets, additionality, region, tmp_path / "report", "zh")
    names = sorted(f.name for f in files)
    expected = [f"{name}.{ext}" for name in ("fan_gdp", "variants_gdp", "probability", "cost")
                for ext in ("png", "svg")]
    assert len(files) == 2 * (2 * 1 + 2)   # PNG + SVG of a fan and a variants chart per target, probability, cost
    assert names == sorted(expected)
    assert all(f.parent == tmp_path / "report" and f.stat().st_size > 1000 for f in files)


def test_fan_chart_en_png_at_300_dpi_and_svg(ensemble, tmp_path):
    region, table, _, _ = ensemble
    files = plots.fan_chart(table, region, "hte_count", tmp_path / "fan_hte.png", lang="en",
                            variant="double_hte_award")
    assert_png_svg(files, "fan_hte")
    from PIL import Image
    with Image.open(files[0]) as img:
        assert round(img.info["dpi"][0]) == 300


def test_fan_chart_unknown_variant_or_language(ensemble, tmp_path):
    region, table, _, _ = ensemble
    with pytest.raises(ValueError, match="not in the table"):
        plots.fan_chart(table, region, "rd_intensity", tmp_path / "x", "zh", variant="nope")
    with pytest.raises(ValueError, match="lang"):
        plots.fan_chart(table, region, "rd_intensity", tmp_path / "x", "fr")


def test_variants_chart_en(ensemble, tmp_path):
    region, table, _, _ = ensemble
    assert_png_svg(plots.variants_chart(table, region, "gdp", tmp_path / "variants_gdp", "en"), "variants_gdp")


def test_probability_chart_en_with_missing_probability(ensemble, tmp_path):
    region, _, targets, _ = ensemble
    assert targets["probability_met"].isna().any()
    assert_png_svg(plots.probability_chart(targets, region, tmp_path / "probability", "en"), "probability")


def test_cost_chart_nan_rows_are_words_not_crashes(ensemble, tmp_path):
    _, _, _, additionality = ensemble
    cost = additionality.copy()
    cost.loc[cost["outcome"] == "rd_intensity", "cost_per_unit_median"] = np.nan   # a panel without any bar
    assert cost["cost_per_unit_median"].isna().sum() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        files = plots.cost_chart(cost, tmp_path / "cost", "zh")
    assert_png_svg(files, "cost")


def test_cost_chart_empty_table(tmp_path):
    empty = pd.DataFrame(columns=["variant", "outcome", "year", "extra_median", "extra_p05", "extra_p95",
                                  "cost_median", "cost_per_unit_median", "unit"])
    assert_png_svg(plots.cost_chart(empty, tmp_path / "cost", "en"), "cost")


def test_plot_targets_keeps_one_png_per_indicator_of_base(ensemble, tmp_path):
    """The runner's charts: <indicator>.png only, drawn from the base variant of a multi-variant table."""
    region, table, _, _ = ensemble
    region = region.model_copy(update={"targets": region.targets[4:5]})
    files = plots.plot_targets(table, region, tmp_path, lang="zh")
    assert files == [tmp_path / "hte_count.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hte_count.png"]


def test_helpers_label_and_colour_rules():
    assert plots._num(1200) == "1,200" and plots._num(2.30) == "2.3" and plots._num(float("nan")) == "–"
    assert plots._variant_order(["no_policy", "x", "base", "y"]) == ["base", "x", "y", "no_policy"]
    a = plots._variant_styles(["base", "no_policy", "x"])
    b = plots._variant_styles(["x", "base"])       # the cost chart has no no_policy: same colours
    assert a["base"] == b["base"] and a["x"] == b["x"]
    text = "来源: 文件 " + "很长的条款" * 30 + " and a long English clause " * 5
    lines = plots._wrap(text, 40).split("\n")
    assert len(lines) > 3 and all(sum(plots._char_em(c) for c in line) <= 40.6 for line in lines)
