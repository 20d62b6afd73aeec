"""Report charts (simulator.report.charts and the chart modules beside it): every chart writes a PNG and
an SVG, Chinese renders without missing glyphs, NaN costs and probabilities are drawn as words,
report_charts writes the full set; no text outside the figure and no overlapping tick labels
(measured with the renderer) for every region in both languages; English charts hold no Chinese;
footers cite document titles, never cut.

Data: a real 3-replicate Qiqihar ensemble to 2026, a second and a no_policy variant faked by
scaling it, and small target / additionality tables built by hand with the runner's columns; for
the layout tests, per region, a synthetic indicator table in the runner's shape (baseline grown
with noise) passed through the real results.targets / results.additionality.
"""

from __future__ import annotations

import re
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from simulator.experiments import results
from simulator.experiments.prepared import prepare
from simulator.inputs.series import slug, unit_of
from simulator.jobs import write_run
from simulator.model.indicators import INDICATORS
from simulator.report.charts import chart_tasks, plot_targets, report_charts
from simulator.report.citations import cite, document_title
from simulator.report.cost_chart import cost_chart
from simulator.report.layout import ChartLayoutWarning, _stem, layout_problems, save_chart, text_width, wrap_text
from simulator.report.projection_charts import fan_chart, variants_chart
from simulator.report.style import DPI, chart_style, cjk_font
from simulator.report.target_charts import _distance, distance_chart, probability_chart
from simulator.report.units import COUNT_UNITS, format_number, unit_axis, with_unit
from simulator.report.variants import variant_label, variant_labels, variant_order, variant_styles
from tests.helpers import QIQIHAR, SCENARIOS

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
    assert cjk_font() is not None, "the bundled Noto Sans CJK SC must load, else zh falls back to en"
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)   # "Glyph ... missing from font(s)" would fail here
        files = report_charts(table, targets, additionality, region, tmp_path / "report", "zh")
    names = sorted(f.name for f in files)
    expected = [f"{name}.{ext}" for name in ("fan_gdp", "variants_gdp", "probability", "distance", "cost")
                for ext in ("png", "svg")]
    assert len(files) == 2 * (2 * 1 + 3)   # PNG + SVG of a fan and a variants chart per target, probability,
    #                                         distance, cost
    assert names == sorted(expected)
    assert all(f.parent == tmp_path / "report" and f.stat().st_size > 1000 for f in files)


def test_fan_chart_en_png_at_300_dpi_and_svg(ensemble, tmp_path):
    region, table, _, _ = ensemble
    files = fan_chart(table, region, "hte_count", tmp_path / "fan_hte.png", lang="en",
                            variant="double_hte_award")
    assert_png_svg(files, "fan_hte")
    from PIL import Image
    with Image.open(files[0]) as img:
        assert round(img.info["dpi"][0]) == 300


def test_fan_chart_unknown_variant_or_language(ensemble, tmp_path):
    region, table, _, _ = ensemble
    with pytest.raises(ValueError, match="not in the table"):
        fan_chart(table, region, "rd_intensity", tmp_path / "x", "zh", variant="nope")
    with pytest.raises(ValueError, match="lang"):
        fan_chart(table, region, "rd_intensity", tmp_path / "x", "fr")


def test_variants_chart_en(ensemble, tmp_path):
    region, table, _, _ = ensemble
    assert_png_svg(variants_chart(table, region, "gdp", tmp_path / "variants_gdp", "en"), "variants_gdp")


def test_probability_chart_en_with_missing_probability(ensemble, tmp_path):
    region, _, targets, _ = ensemble
    assert targets["probability_met"].isna().any()
    assert_png_svg(probability_chart(targets, region, tmp_path / "probability", "en"), "probability")


def test_cost_chart_nan_rows_are_words_not_crashes(ensemble, tmp_path):
    _, _, _, additionality = ensemble
    cost = additionality.copy()
    cost.loc[cost["outcome"] == "rd_intensity", "cost_per_unit_median"] = np.nan   # a panel without any bar
    assert cost["cost_per_unit_median"].isna().sum() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        files = cost_chart(cost, tmp_path / "cost", "zh")
    assert_png_svg(files, "cost")


def test_cost_chart_empty_table(tmp_path):
    empty = pd.DataFrame(columns=["variant", "outcome", "year", "extra_median", "extra_p05", "extra_p95",
                                  "cost_median", "cost_per_unit_median", "unit"])
    assert_png_svg(cost_chart(empty, tmp_path / "cost", "en"), "cost")


def test_plot_targets_keeps_one_png_per_indicator_of_base(ensemble, tmp_path):
    """The runner's charts: <indicator>.png only, drawn from the base variant of a multi-variant table."""
    region, table, _, _ = ensemble
    region = region.model_copy(update={"targets": region.targets[4:5]})
    files = plot_targets(table, region, tmp_path, lang="zh")
    assert files == [tmp_path / "hte_count.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hte_count.png"]


def test_helpers_label_and_colour_rules():
    assert format_number(1200) == "1,200" and format_number(2.30) == "2.3" and format_number(float("nan")) == "–"
    assert variant_order(["no_policy", "x", "base", "y"]) == ["base", "x", "y", "no_policy"]
    a = variant_styles(["base", "no_policy", "x"])
    b = variant_styles(["x", "base"])       # the cost chart has no no_policy: same colours
    assert a["base"] == b["base"] and a["x"] == b["x"]


CJK = re.compile("[\u2e80-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_wrap_fits_the_width_never_drops_text_nor_splits_a_word(lang):
    text = ("来源: 《哈大齐国家自主创新示范区齐齐哈尔片区建设实施方案》(齐政发〔2023〕14号) · 目标 专栏1 第5行; "
            + "很长的条款" * 30 + " and a long English clause with words like distinguishable and counterfactual" * 4)
    with chart_style(lang):
        wrapped = wrap_text(text, 300, 7)
        lines = wrapped.split("\n")
        assert len(lines) > 3
        assert all(text_width(line, 7) <= 300 for line in lines)
    assert "".join(wrapped.split()) == "".join(text.split()), "nothing dropped or cut with '…'"
    words = set(re.findall(r"[A-Za-z]+", text))
    assert words <= {w for line in lines for w in re.findall(r"[A-Za-z]+", line)}, "no English word split"
    assert not any(line.startswith(("》", "〕", ")", ",", ";")) for line in lines)


def test_sources_cite_titles_and_stay_in_the_chart_language():
    doc = "000_9b00245553ae58f3.txt"
    zh = cite("000 专栏1 row 5; 一.(二)4 (200家以上)", "zh", doc)
    en = cite("000 专栏1 row 5; 一.(二)4 (200家以上)", "en", doc)
    assert zh == "专栏1 第5行; 一.(二)4 (200家以上)" and "row" not in zh
    assert en == "Box 1 row 5; sec. 1.(2)4" and not CJK.search(en)
    other = cite("003 一.(二) 国家级高新区研发投入强度达到4%以上 (national zone)", "en", doc)
    assert other.startswith("Opinions of the Baotou") and other.endswith("sec. 1.(2) (national zone)")
    assert "national zone" not in cite("003 一.(二) 达到4%以上 (national zone)", "zh", "003")
    for lang in ("zh", "en"):
        title = document_title(doc, lang)
        assert "9b00245553ae58f3" not in title
        assert ("齐政发〔2023〕14号" if lang == "zh" else "No. 14") in title
        assert document_title("my_own_plan.txt", lang) == "my_own_plan.txt"   # unknown: named as given


def test_english_units_and_variant_names():
    assert with_unit(300, "亿元", "en") == "30 billion yuan"
    assert with_unit(1850, "万元", "en") == "18.5 million yuan"
    assert with_unit(200, "家", "en", "hte_count") == "200 firms"
    assert with_unit(5, "家", "en", "national_incubators") == "5 incubators"
    assert with_unit(1, "家", "en", "incubator_count") == "1 carrier"
    assert with_unit(200, "家", "zh", "hte_count") == "200家"
    assert unit_axis("万元", "en") == "10 000 yuan" and unit_axis("亿元", "en") == "100 million yuan"
    names = variant_labels(prepare(QIQIHAR).scenario)
    assert names["base"] == {"zh": "规划方案", "en": "policies as written"}
    assert set(names) >= {"base", "no_policy", "double_hte_award", "talent_instead_of_awards"}
    assert all(CJK.search(n["zh"]) and not CJK.search(n["en"]) for n in names.values())
    assert variant_label("something_else", "zh", names) == "something_else"


# ---------------------------------------------------------------- layout, every region, both languages
def synthetic_tables(prepared, replicates: int = 3):
    """An indicator table in the runner's shape (base, no_policy and the scenario's variants; every
    targeted indicator and the additionality outcomes), the baseline grown with noise, and the
    targets and additionality tables the runner computes from it."""
    region = prepared.region
    last = max([t.year for t in region.targets], default=region.base_year + 2)
    years = np.arange(region.base_year, min(prepared.scenario.horizon, last + 2) + 1)
    indicators = dict.fromkeys([t.key for t in region.targets] + ["hte_count", "rd_intensity", "gdp",
                                                                    "subsidy_paid"])   # t.key: series of any kind
    variants = ["base", "no_policy", *prepared.scenario.variants]
    rng = np.random.default_rng(7)
    rows = []
    for name in indicators:
        if name == "national_rank":
            start = float(region.ranking.rank) if region.ranking else 50.0
        elif name in region.baseline:
            start = region.base(name)
        else:
            start = 0.0 if name == "subsidy_paid" else 10.0
        count = unit_of(name, INDICATORS) in COUNT_UNITS
        for j, v in enumerate(variants):
            for k in range(replicates):
                steps = years - region.base_year
                growth = (0.97 if name == "national_rank" else 1.03 + 0.01 * j) ** steps
                value = start * growth * (1 + 0.02 * rng.standard_normal(len(years)) * (steps > 0))
                if name == "subsidy_paid":
                    value = np.where(v == "no_policy", 0.0, 500.0 * (j + 1) * (steps > 0))
                value = np.round(value) if count else value
                rows += [(v, k, int(y), name, float(x)) for y, x in zip(years, value, strict=True)]
    table = pd.DataFrame(rows, columns=["variant", "replicate", "year", "indicator", "value"])
    return table, results.targets(table, region), results.additionality(table, region)


#: every region's scenario; of the nine Shuangyashan counties (one generated layout, same targets and
#: variants) two: the one with the longest English name and one other, to keep the test fast
SCENARIO_FILES = sorted(p for p in SCENARIOS.glob("*.yaml")
                        if not p.stem.startswith("sys_") or p.stem in ("sys_edz", "sys_youyi"))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_every_chart_of_every_region_keeps_text_inside_and_ticks_apart(path, monkeypatch):
    """Every chart the runner makes for a region, in Chinese and English: no ChartLayoutWarning (text
    outside the figure, overlapping tick labels: renderer extents), no Chinese in an English chart, no
    raw variant id in a legend, no seed file name in a footer, nothing cut with '…'."""
    prepared = prepare(path)
    table, targets, additionality = synthetic_tables(prepared)
    names = variant_labels(prepared.scenario)
    seen: list[tuple[str, list[str]]] = []
    real_save = save_chart

    def inspect_then_save(fig, stem, formats=("png", "svg")):
        from matplotlib.text import Text

        texts = [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        seen.append((_stem(stem).name, texts))
        return real_save(fig, stem, ())        # layout check only: drawing PNGs is not what is tested here

    for module in ("projection_charts", "target_charts", "cost_chart"):
        monkeypatch.setattr(f"simulator.report.{module}.save_chart", inspect_then_save)
    for lang in ("zh", "en"):
        seen.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("error", ChartLayoutWarning)
            for func, args in chart_tasks(table, targets, additionality, prepared.region, "unused", lang,
                                                names):
                func(*args)
        charts = {name for name, _ in seen}
        assert {"probability", "distance", "cost"} <= charts
        assert {f"fan_{slug(t.key)}" for t in prepared.region.targets} <= charts
        for chart, texts in seen:
            joined = "\n".join(texts)
            assert "…" not in joined and ".txt" not in joined, (chart, lang)
            if lang == "en":
                assert not CJK.search(joined), (chart, CJK.findall(joined)[:10])
            legend_or_ticks = set(texts)
            assert not legend_or_ticks & (set(prepared.scenario.variants) | {"base", "no_policy"}), chart


def test_layout_check_catches_overlapping_ticks_and_text_outside():
    """The check the test above relies on fails where it should."""
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(range(5), ["a very long tick label"] * 5)
    fig.text(0.9, 0.5, "runs off the right edge of the figure")
    fig.set_dpi(DPI)
    problems = layout_problems(fig)
    plt.close(fig)
    assert any("overlapping x tick labels" in p for p in problems)
    assert any("outside the figure" in p and "runs off" in p for p in problems)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1])
    fig.tight_layout()
    assert layout_problems(fig) == []
    plt.close(fig)


def test_the_runners_charts_in_english_pass_the_layout_check(tmp_path):
    """The runner itself (in-process charts): an English run writes probability, distance and cost
    without a layout warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChartLayoutWarning)
        write_run(SCENARIOS / "sys_youyi.yaml", out=tmp_path / "out", replicates=2, horizon=2024, lang="en",
                  progress=False)
    pngs = {p.stem for p in (tmp_path / "out").glob("*.png")}
    assert {"probability", "distance", "cost"} <= pngs


def test_fan_chart_marks_the_target_at_its_year_only(ensemble, tmp_path, monkeypatch):
    """No line across the horizon at the target value: whatever is drawn at that value spans a year at most."""
    region, table, _, _ = ensemble
    target = next(t for t in region.targets if t.indicator == "hte_count")
    lines: list = []
    real_save = save_chart
    monkeypatch.setattr("simulator.report.projection_charts.save_chart",
                        lambda fig, stem, formats=(): (lines.extend(fig.axes[0].lines), real_save(fig, stem, ()))[1])
    fan_chart(table, region, "hte_count", tmp_path / "fan", "en")
    at_target = [ln for ln in lines if np.allclose(np.asarray(ln.get_ydata(), float), target.value)]
    assert at_target, "the target is drawn"
    spans = [np.ptp(np.asarray(ln.get_xdata(), float)) for ln in at_target]
    assert max(spans) <= 1.0


def test_distance_chart_reads_new_target_rows_and_skips_non_positive_targets(ensemble, tmp_path):
    """Rows of another target kind (issue 13's growth/flow/share targets) and a target of 0 draw without error."""
    region, _, targets, _ = ensemble
    extra = targets.iloc[[0]].assign(indicator="gdp", kind="growth", target_value=0.0, target_year=2024)
    more = pd.concat([targets.assign(kind="level"), extra], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ChartLayoutWarning)
        assert_png_svg(distance_chart(more, region, tmp_path / "distance", "en"), "distance")
        assert_png_svg(probability_chart(more, region, tmp_path / "probability", "zh"), "probability")
    assert np.isnan(_distance(extra.iloc[0])[0])
    row = pd.Series({"indicator": "national_rank", "target_value": 65, "median": 130, "p05": 100, "p95": 160})
    med, low, high = _distance(row)
    assert med == pytest.approx(50) and low < med < high
