"""The names a plan's targets and the result tables speak of: indicators, firm properties, target kinds, series keys.

The vocabulary only: each indicator's unit, bilingual label and direction (:data:`INDICATOR_INFO`), each firm
property's labels and whether it is an event (:data:`PROPERTY_INFO`), the yearly flows (:data:`FLOW_INDICATORS`),
the target kinds' units and labels (:data:`KIND_INFO`), and the pure functions on series keys. What computes
them from the agents lives in :mod:`simulator.model.indicators` and :mod:`simulator.model.targets`, which join
their functions with these names (and check at import that both name the same things); file validation,
tables and charts need only the names.

A target of any kind measures one *series*, named by a key (:func:`series_key`):

============  ===================================  =====================================
kind          key                                  value in year Y
============  ===================================  =====================================
level         ``hte_count``                        the indicator in Y
growth        ``growth:gdp``,                      100 x (X_Y / X_{Y-1} - 1), %; over a
              ``growth@2021:gdp``                  named base year B: 100 x (X_Y / X_B - 1)
flow          ``tech_sme_new`` (a per-year         the flow in Y: new certificates,
              indicator) or ``flow:zjtx_listed``   listings, entrants, firms crossing 规上
cumulative    ``cumulative@2022:results_converted``  sum of a flow from the first year to Y
share         ``share:hte_or_tech_sme``,           100 x firms with every property ÷ firms
              ``share:rd_active/above_scale+industrial``  (among those with the second list), %
count_where   ``count:above_scale+industrial+rd_active``  firms with every property
============  ===================================  =====================================

X, the measured series, is an indicator or a count of firms with properties (``where``). The key
functions take the indicators' metadata as an argument (:data:`INDICATOR_INFO`, or the model's
:data:`simulator.model.indicators.INDICATORS`, which holds the same names, units and labels).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class IndicatorInfo:
    """An indicator's unit, labels, and whether a target is met from above or below."""

    unit: str
    zh: str
    en: str
    higher_is_better: bool = True


class SeriesTable(dict):
    """Indicators by name. Looking up a target's series key of another kind (``growth:gdp``,
    ``share:hte_or_tech_sme``) gives its unit and labels too, so tables and charts treat every target
    like a level target; iterating gives the named indicators only."""

    def __missing__(self, key: str) -> Any:
        if not isinstance(key, str) or parse(key) is None or not known(key, self):
            raise KeyError(key)
        return self.derived(key)

    def derived(self, key: str) -> Any:
        """The entry of a well-formed, known series key that is not a plain indicator name."""
        return IndicatorInfo(unit_of(key, self), label(key, self, "zh"), label(key, self, "en"),
                             higher_is_better(key, self))

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    def __contains__(self, key) -> bool:
        return self.get(key) is not None


#: the named indicators, in the order of the tables and charts (:mod:`simulator.model.indicators` computes them)
INDICATOR_INFO: SeriesTable = SeriesTable({
    "gdp": IndicatorInfo("亿元", "地区生产总值", "GDP"),
    "revenue": IndicatorInfo("亿元", "营业收入", "Operating revenue"),
    "rd_intensity": IndicatorInfo("%", "R&D经费投入强度(占GDP)", "R&D intensity (share of GDP)"),
    "hte_count": IndicatorInfo("家", "高新技术企业", "High-tech enterprises"),
    "hightech_output_share": IndicatorInfo("%", "高新技术产业产值比重", "High-tech share of industrial output"),
    "tech_contract_value": IndicatorInfo("亿元", "技术合同成交额", "Technology-contract turnover"),
    "tech_sme_count": IndicatorInfo("家", "科技型中小企业(入库)", "Registered tech SMEs"),
    "firm_count": IndicatorInfo("家", "企业数", "Firms"),
    "national_incubators": IndicatorInfo("家", "国家级孵化载体", "National incubators"),
    "national_rd_institutions": IndicatorInfo("个", "国家级研发机构", "National R&D institutions"),
    "little_giants": IndicatorInfo("家", "专精特新小巨人企业", "Little-giant firms"),
    "incubator_count": IndicatorInfo("家", "孵化载体", "Incubation carriers"),
    "rd_institution_count": IndicatorInfo("个", "研发机构", "R&D institutions"),
    "subsidy_paid": IndicatorInfo("万元", "当年补贴支出", "Subsidies paid this year"),
    "national_rank": IndicatorInfo("位", "全国高新区排名", "National high-tech zone rank", higher_is_better=False),
    "rd_expenditure": IndicatorInfo("亿元", "R&D经费", "R&D expenditure"),
    "firm_value_added": IndicatorInfo("亿元", "企业增加值", "Value added of modelled firms"),
    "tech_purchase_value": IndicatorInfo("亿元", "技术吸纳额", "Technology bought by firms"),
    "above_scale_count": IndicatorInfo("家", "规上企业", "Firms above designated size"),
    "incubator_tenants": IndicatorInfo("家", "在孵企业", "Incubator tenants"),
    "zjtx_count": IndicatorInfo("家", "专精特新企业", "专精特新 firms"),
    "emerging_revenue": IndicatorInfo("亿元", "战略性新兴产业营业收入", "Revenue of strategic emerging industries"),
    "soe_rd_expenditure": IndicatorInfo("亿元", "省属国有企业研发投入", "R&D of provincial SOEs"),
    "hightech_manufacturing_value_added": IndicatorInfo("亿元", "规上高技术制造业增加值",
                                                        "High-tech manufacturing value added (above size)"),
    "tech_contract_gdp_share": IndicatorInfo("%", "技术合同成交额占GDP比重", "Technology contracts, share of GDP"),
    "results_converted": IndicatorInfo("项", "转化科技成果", "Research results converted"),
    "rd_institutions_provincial_plus": IndicatorInfo("个", "省级及以上研发机构和新型研发机构",
                                                     "Provincial-or-higher and new-type R&D institutions"),
    "new_type_rd_institutions": IndicatorInfo("个", "新型研发机构", "New-type R&D institutions"),
    "hte_new_certifications": IndicatorInfo("家", "首次认定高企", "First HTE certifications"),
    "hte_recertifications": IndicatorInfo("家", "重新认定高企", "HTE re-certifications"),
    "hte_renewals": IndicatorInfo("家", "到期续认定高企", "HTE renewals at expiry"),
    "hte_reentries": IndicatorInfo("家", "失效后重新认定高企", "HTE re-certifications after a lapse"),
    "hte_expired": IndicatorInfo("家", "到期未续高企", "HTE certificates expired, not renewed"),
    "hte_exits": IndicatorInfo("家", "退出的高企", "HTE holders exiting"),
    "hte_entrants": IndicatorInfo("家", "迁入的高企", "HTE holders entering"),
    "tech_sme_new": IndicatorInfo("家", "新入库科技型中小企业", "Tech SMEs newly registered"),
    "tech_sme_dropped": IndicatorInfo("家", "未再入库科技型中小企业", "Tech SMEs not registered again"),
    "tech_sme_exits": IndicatorInfo("家", "退出的科技型中小企业", "Tech SMEs exiting"),
    "incubators_founded": IndicatorInfo("家", "新建孵化载体", "Incubation carriers founded"),
    "incubator_upgrades_provincial": IndicatorInfo("家", "升为省级孵化载体", "Carriers upgraded to provincial"),
    "incubator_upgrades_national": IndicatorInfo("家", "升为国家级孵化载体", "Carriers upgraded to national"),
    "tenant_graduations": IndicatorInfo("家", "毕业在孵企业", "Tenants graduating"),
    "rd_institutions_founded": IndicatorInfo("个", "新建研发机构", "R&D institutions founded"),
    "rd_institution_upgrades": IndicatorInfo("个", "研发机构升级", "R&D institutions upgraded"),
    "alliance_count": IndicatorInfo("家", "产业技术创新战略联盟", "Industrial technology innovation alliances"),
    "alliances_provincial_plus": IndicatorInfo("家", "省级及以上产业技术创新战略联盟",
                                               "Provincial-or-higher alliances"),
    "national_alliances": IndicatorInfo("家", "国家级产业技术创新战略联盟", "National alliances"),
    "alliances_founded": IndicatorInfo("家", "新建产业技术创新战略联盟", "Alliances founded"),
    "alliance_member_firms": IndicatorInfo("家", "联盟成员企业", "Firms in an alliance"),
    "tech_transfer_institutions": IndicatorInfo("家", "技术转移示范机构",
                                                "Technology-transfer demonstration institutions"),
    "transfer_institutions_recognised": IndicatorInfo("家", "新认定技术转移示范机构",
                                                      "Transfer institutions newly recognised"),
})


@dataclass(frozen=True)
class PropertyInfo:
    """A firm property's bilingual labels; ``event`` if it holds only in the year something happened."""

    zh: str
    en: str
    event: bool = False


#: firm properties a target's ``where`` and ``among`` may name (masks: :data:`simulator.model.targets.PROPERTIES`)
PROPERTY_INFO: dict[str, PropertyInfo] = {
    "above_scale": PropertyInfo("规上", "above designated size"),
    "industrial": PropertyInfo("工业", "industrial"),
    "rd_active": PropertyInfo("有研发投入", "with R&D"),
    "hte": PropertyInfo("高企", "HTE"),
    "tech_sme": PropertyInfo("科技型中小企业", "tech SME"),
    "hte_or_tech_sme": PropertyInfo("高企或科技型中小企业", "HTE or tech SME"),
    "zjtx": PropertyInfo("专精特新", "专精特新"),
    "startup_or_spinoff": PropertyInfo("新生成(孵化/衍生)", "start-up or spin-off"),
    "spinoff": PropertyInfo("院所衍生", "institute spin-off"),
    "zjtx_listed": PropertyInfo("新认定专精特新", "newly listed 专精特新", event=True),
    "little_giant_listed": PropertyInfo("新认定小巨人", "newly listed little giant", event=True),
    "entered": PropertyInfo("当年新进入", "entered this year", event=True),
    "crossed_above_scale": PropertyInfo("当年升规", "crossed the 规上 line this year", event=True),
}

#: indicators that are yearly flows (new in the year, paid in the year), which ``flow`` and ``cumulative``
#: targets may name; names not (yet) among the indicators are ignored
FLOW_INDICATORS = frozenset({
    "hte_new_certifications", "hte_recertifications", "subsidy_paid", "tech_contract_value", "tech_purchase_value",
    "results_converted", "hte_renewals", "hte_reentries", "hte_expired", "hte_exits", "hte_entrants",
    "tech_sme_new", "incubators_founded", "incubator_upgrades", "rd_institutions_founded",
    "rd_institution_upgrades", "alliances_founded", "transfer_institutions_recognised"})


@dataclass(frozen=True)
class KindInfo:
    """A target kind's unit (None: the measured series' unit) and labels."""

    unit: str | None
    zh: str
    en: str


#: the six target kinds (their functions: :data:`simulator.model.targets.KINDS`)
KIND_INFO: dict[str, KindInfo] = {
    "level": KindInfo(None, "水平", "level"),
    "growth": KindInfo("%", "增速", "growth"),
    "flow": KindInfo(None, "当年新增", "new in the year"),
    "cumulative": KindInfo(None, "累计", "cumulative"),
    "share": KindInfo("%", "占比", "share of firms"),
    "count_where": KindInfo("家", "企业数", "firms"),
}


# ------------------------------------------------------------------ series keys
def where_key(prefix: str, where: Sequence[str], among: Sequence[str] = ()) -> str:
    """``count:a+b``, ``flow:a``, ``share:a/b+c``."""
    key = f"{prefix}:{'+'.join(where)}"
    return f"{key}/{'+'.join(among)}" if among else key


def series_key(kind: str, indicator: str | None = None, where: Sequence[str] = (), among: Sequence[str] = (),
               base_year: int | None = None, from_year: int | None = None) -> str:
    """The key of the series a target measures (the ``indicator`` column of the tables)."""
    inner = indicator if indicator else where_key("flow" if kind in ("flow", "cumulative") else "count", where)
    if kind == "share":
        return where_key("share", where, among)
    if kind == "growth":
        return f"growth@{base_year}:{inner}" if base_year else f"growth:{inner}"
    if kind == "cumulative":
        return f"cumulative@{from_year}:{inner}"
    return inner        # level, flow, count_where


@dataclass(frozen=True)
class Series:
    """A parsed series key."""

    kind: str
    inner: str                 # the measured series (an indicator, ``count:…`` or ``flow:…``); itself for those
    where: tuple[str, ...] = ()
    among: tuple[str, ...] = ()
    year: int | None = None    # growth's base year or cumulative's first year


def parse(key: str) -> Series | None:
    """The kind and parts of a derived series key; None for a plain indicator name or a malformed key."""
    head, sep, rest = key.partition(":")
    if not sep:
        return None
    name, _, year = head.partition("@")
    if year and not year.isdigit():
        return None
    if name in ("count", "flow", "share"):
        where, _, among = rest.partition("/")
        props = tuple(p for p in where.split("+") if p)
        amongs = tuple(p for p in among.split("+") if p)
        if not props or any(p not in PROPERTY_INFO for p in (*props, *amongs)) or year:
            return None
        kind = {"count": "count_where", "flow": "flow", "share": "share"}[name]
        return Series(kind, key, props, amongs)
    if name in ("growth", "cumulative") and (year or name == "growth"):
        inner = parse(rest)
        if inner is not None and inner.kind not in ("count_where", "flow"):
            return None
        return Series(name, rest, inner.where if inner else (), (), int(year) if year else None)
    return None


def known(key: str, indicators: Mapping[str, Any]) -> bool:
    """Whether a series key is well formed and measures a known indicator or firm properties."""
    s = parse(key)
    if s is None:
        return key in indicators
    return s.inner == key or known(s.inner, indicators)


def label(key: str, indicators: Mapping[str, Any], lang: str = "zh") -> str:
    """Bilingual label of a series key (an indicator's own label for a plain name)."""
    s = parse(key)
    if s is None:
        ind = indicators.get(key)
        return key if ind is None else getattr(ind, lang)
    if s.kind in ("count_where", "flow", "share"):
        words = [getattr(PROPERTY_INFO[p], lang) for p in s.where]
        among = [getattr(PROPERTY_INFO[p], lang) for p in s.among]
        if lang == "zh":
            text = "".join(words) + "企业"
            if s.kind == "share":
                return f"{text}占{''.join(among) + '企业' if among else '企业总数'}比重"
            return ("当年新增" if s.kind == "flow" else "") + text
        text = " and ".join(words) + " firms"
        if s.kind == "share":
            return f"share of {text} among {' and '.join(among) + ' firms' if among else 'all firms'}"
        return ("new " if s.kind == "flow" else "") + text
    inner = label(s.inner, indicators, lang)
    if s.kind == "growth":
        since = f"(比{s.year}年)" if s.year and lang == "zh" else (f" since {s.year}" if s.year else "")
        return f"{inner}增速{since}" if lang == "zh" else f"{inner}, growth{since}"
    return f"{inner}({s.year}年起累计)" if lang == "zh" else f"{inner}, cumulative since {s.year}"


def unit_of(key: str, indicators: Mapping[str, Any]) -> str | None:
    """Unit of a series key: the kind's unit, else the measured series'; None for an unknown key."""
    s = parse(key)
    if s is None:
        ind = indicators.get(key)
        return None if ind is None else ind.unit
    unit = KIND_INFO[s.kind].unit
    if unit is not None:
        return unit
    if s.inner == key:        # flow:… counts firms
        return "家"
    return unit_of(s.inner, indicators)


def higher_is_better(key: str, indicators: Mapping[str, Any]) -> bool:
    """Whether a target on the series is met from above (the measured indicator's direction)."""
    s = parse(key)
    base = key if s is None else (s.inner if s.inner != key else None)
    ind = indicators.get(base) if base else None
    return True if ind is None else ind.higher_is_better


def slug(key: str) -> str:
    """A file-name-safe form of a series key (``growth@2021:count:a+b`` -> ``growth_2021_count_a_b``); a plain
    indicator name is unchanged."""
    return key.replace("@", "_").replace(":", "_").replace("/", "_among_").replace("+", "_")
