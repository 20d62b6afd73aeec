"""Numbers with their units, axis units and indicator names as the charts write them, in either language."""

from __future__ import annotations

import math

from simulator.inputs.region_file import Region
from simulator.inputs.series import higher_is_better as series_higher_is_better
from simulator.inputs.series import label as series_label
from simulator.inputs.series import parse as parse_series
from simulator.inputs.series import unit_of
from simulator.model.indicators import INDICATORS

#: Units of the indicator table and the result tables as axis labels. English charts are all English:
#: 亿元 = 10^8 yuan, 万元 = 10^4 yuan; counts are named by what they count (:data:`_COUNT_NOUN`).
_UNIT_AXIS = {"en": {"亿元": "100 million yuan", "万元": "10 000 yuan", "家": "number", "个": "number",
                     "项": "number",
                     "%": "%", "位": "rank", "percentage points": "percentage points"},
              "zh": {"percentage points": "百分点", "家": "数量 (家)", "个": "数量 (个)", "项": "数量 (项)",
                     "位": "名次"}}
#: What an English count of an indicator counts ("200 firms", axis "number of incubators").
_COUNT_NOUN = {"hte_count": "firms", "tech_sme_count": "firms", "firm_count": "firms", "little_giants": "firms",
               "above_scale_count": "firms", "incubator_tenants": "firms", "zjtx_count": "firms",
               "hte_new_certifications": "firms", "hte_recertifications": "firms",
               "national_incubators": "incubators", "incubator_count": "carriers",
               "national_rd_institutions": "institutions", "rd_institution_count": "institutions",
               "rd_institutions_provincial_plus": "institutions", "new_type_rd_institutions": "institutions",
               "results_converted": "results"}
#: Units whose values are whole numbers (axis ticks at integers only).
COUNT_UNITS = ("家", "个", "项", "位")


def format_number(value: float) -> str:
    """A number for a label: thousands separators for large values, at most 2 decimals for small ones,
    two significant digits below 0.01 (0.000072, never a "0" that is not zero)."""
    if value is None or not math.isfinite(value):
        return "–"
    a = abs(value)
    if 0 < a < 0.01:
        return f"{value:.{min(10, 1 - math.floor(math.log10(a)))}f}".rstrip("0")
    if a >= 1000:
        return f"{value:,.0f}"
    if a >= 100:
        return f"{value:.0f}"
    text = f"{value:.1f}" if a >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _yuan(value: float, unit: str) -> str:
    """An amount in 亿元 or 万元 in English words: ``30 billion yuan``, ``18.5 million yuan``, ``5,000 yuan``."""
    yuan = value * (1e8 if unit == "亿元" else 1e4)
    for scale, word in ((1e9, "billion"), (1e6, "million")):
        if abs(yuan) >= scale:
            return f"{format_number(yuan / scale)} {word} yuan"
    return f"{format_number(yuan)} yuan"


def with_unit(value: float, unit: str, lang: str, indicator: str | None = None) -> str:
    """``300 亿元`` / ``30 billion yuan``, ``4%``, ``200家`` / ``200 firms``, ``+0.12 pp``."""
    unit = unit if isinstance(unit, str) else ""
    if unit == "%":
        return f"{format_number(value)}%"
    if lang == "en":
        if unit in ("亿元", "万元"):
            return _yuan(value, unit)
        if unit in COUNT_UNITS:
            noun = "" if unit == "位" else _count_noun(indicator)
            noun = noun[:-1] if format_number(value) in ("1", "-1") and noun.endswith("s") else noun   # 1 firm, 2 firms
            return f"{format_number(value)} {noun}".rstrip()
        if unit == "percentage points":
            return f"{format_number(value)} pp"
    elif unit == "percentage points":
        return f"{format_number(value)} 个百分点"
    if not unit:
        return format_number(value)
    return f"{format_number(value)}{unit}" if lang == "zh" and unit in COUNT_UNITS else f"{format_number(value)} {unit}"


def _count_noun(key: str | None) -> str:
    """What a count counts in English: the indicator's noun (also inside a growth/flow key), "firms" for a
    count of firms with properties (``flow:``, ``count:``), else ""."""
    if not key:
        return ""
    if key in _COUNT_NOUN:
        return _COUNT_NOUN[key]
    series = parse_series(key)
    if series is None:
        return ""
    return _COUNT_NOUN.get(series.inner, "firms" if series.inner == key else "")


def unit_axis(unit: str, lang: str, indicator: str | None = None) -> str:
    """The axis label of ``unit`` in ``lang`` (English counts by what they count: "number of firms")."""
    if lang == "en" and unit in ("家", "个", "项") and _count_noun(indicator):
        return f"number of {_count_noun(indicator)}"
    return _UNIT_AXIS.get(lang, {}).get(unit, unit)


#: English names where the indicator table's own English keeps a Chinese term.
_EN_NAMES = {"zjtx_count": "Specialised and innovative ('zhuanjingtexin') firms"}
#: Chinese terms inside English series labels (simulator.model.targets firm properties), in English.
_EN_TERMS = {"专精特新": "specialised and innovative", "规上": "above-designated-size"}


def indicator_name(indicator: str, lang: str) -> str:
    """Name of an indicator or of a target's series key (``growth:gdp`` → 地区生产总值增速 / GDP, growth)."""
    if lang == "en" and indicator in _EN_NAMES:
        return _EN_NAMES[indicator]
    name = series_label(indicator, INDICATORS, lang)
    if lang == "en":
        for zh, en in _EN_TERMS.items():
            name = name.replace(zh, en)
    return name


def series_unit(key: str) -> str:
    """Unit of an indicator or series key ("" when unknown)."""
    return unit_of(key, INDICATORS) or ""


def higher_is_better(key: str) -> bool:
    """Whether the series is better higher (False for a rank)."""
    return series_higher_is_better(key, INDICATORS)


def region_name(region: Region, lang: str) -> str:
    """The region's name in ``lang``."""
    return region.name.zh if lang == "zh" else region.name.en
