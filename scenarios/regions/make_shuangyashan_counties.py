"""Generate the region files of Shuangyashan's 9 counties/districts from the city file and 004 附件2.

Usage (from the repository root):
    python scenarios/regions/make_shuangyashan_counties.py

No county-level statistics exist in ../shared/data, so each county is the city
(scenarios/regions/shuangyashan.yaml) scaled by its share of the plan: the
mean of its shares of the five stock columns of 附件2 (tech SMEs, HTEs, R&D
institutions, carriers, alliances). Extensive figures (GDP, revenue, technology
contracts, firms) scale by that share; intensive ones (R&D/GDP, high-tech share)
are the city's; counts (HTEs, carriers, R&D institutions) are the city's 2021
counts split by the county's share of the same column (largest remainder).
Alliances: the city's 24 of 2021 (004 三.3) split by the 附件2 column 产业联盟 (largest remainder), its
6 provincial ones split in proportion to the counties' counts; technology-transfer demonstration
institutions are not allocated to counties by 附件2, so the county files have none (the city file
evaluates them). Targets are the county's 附件2 allocations for 2023: the five stock columns as levels
and 转化各类科技成果 as a cumulative flow over 2021-2023 (simulator/model/targets.py). The EDZ also
carries 001 二.5's 经开区 GDP growth. Every generated
figure says so in its source. Because a county starts as a scaled copy, a target its
allocated 2021 share already meets is met by construction; targets.csv marks such targets
(column met_in_base_year) instead of counting them as achievements. Re-run after editing the
city file or the allocation.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import yaml

HERE = Path(__file__).resolve().parent
CITY = HERE / "shuangyashan.yaml"
ALLOCATION = HERE / "_shuangyashan_allocation.yaml"
SCENARIOS = HERE.parent

IDS = {"集贤县": ("sys_jixian", "Jixian county"), "友谊县": ("sys_youyi", "Youyi county"),
       "宝清县": ("sys_baoqing", "Baoqing county"), "饶河县": ("sys_raohe", "Raohe county"),
       "尖山区": ("sys_jianshan", "Jianshan district"), "岭东区": ("sys_lingdong", "Lingdong district"),
       "四方台区": ("sys_sifangtai", "Sifangtai district"), "宝山区": ("sys_baoshan", "Baoshan district"),
       "市经开区管委": ("sys_edz", "Shuangyashan economic development zone")}
STOCKS = ("tech_sme", "hte", "rd_institutions", "incubators", "alliances")
TARGET_COLUMNS = {"tech_sme": ("tech_sme_count", "家"), "hte": ("hte_count", "家"),
                  "rd_institutions": ("rd_institution_count", "个"), "incubators": ("incubator_count", "家"),
                  "alliances": ("alliance_count", "家")}
#: the vocational college, the city's one higher-education institution (004 三.10), is placed in Jianshan
#: district, the city centre (assumption: the college's campus is in the urban districts)
COLLEGE_DISTRICT = "尖山区"


def split(total: int, weights: list[float]) -> list[int]:
    """Split an integer total by weights (largest remainder)."""
    w = np.asarray(weights, dtype=float)
    raw = w / w.sum() * total
    out = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - out))[: total - out.sum()]:
        out[i] += 1
    return out.tolist()


def main() -> None:
    city = yaml.safe_load(CITY.read_text("utf-8"))
    alloc = yaml.safe_load(ALLOCATION.read_text("utf-8"))
    counties, total = alloc["counties"], alloc["total"]
    shares = [float(np.mean([c[k] / total[k] for k in STOCKS])) for c in counties]
    base = city["baseline"]
    hte = split(int(base["hte_count"]["value"]), [c["hte"] for c in counties])
    carriers = split(int(base["incubator_count"]["value"]), [c["incubators"] for c in counties])
    institutions = split(int(base["rd_institution_count"]["value"]), [c["rd_institutions"] for c in counties])
    city_alliances = city["alliances"]
    alliances = split(city_alliances["municipal"] + city_alliances["provincial"] + city_alliances["national"],
                      [c["alliances"] for c in counties])
    provincial = split(city_alliances["provincial"], alliances)
    for c, s, n_hte, n_car, n_inst, n_all, n_prov in zip(counties, shares, hte, carriers, institutions, alliances,
                                                         provincial, strict=True):
        rid, en = IDS[c["name"]]
        why = (f"{c['name']} holds {s:.1%} of the city in 004 附件2 (mean of its shares of tech SMEs "
               f"{c['tech_sme']}/80, HTEs {c['hte']}/36, R&D institutions {c['rd_institutions']}/24, carriers "
               f"{c['incubators']}/15, alliances {c['alliances']}/30)")
        r = copy.deepcopy(city)
        r["id"] = rid
        r["name"] = {"zh": f"双鸭山市{c['name']}", "en": f"{en}, Shuangyashan"}
        b = r["baseline"]
        for key in ("gdp", "revenue", "tech_contract_value"):
            b[key]["value"] = round(b[key]["value"] * s, 3)
            b[key]["source"] = f"assumption: the city's {city['baseline'][key]['value']} x {s:.4f}; {why}"
        for key, value, column in (("hte_count", n_hte, "高新企业"), ("incubator_count", n_car, "科技孵化载"),
                                   ("rd_institution_count", max(n_inst, 1), "研发机构")):
            b[key]["value"] = value
            b[key]["source"] = (f"assumption: the city's 2021 count ({city['baseline'][key]['value']}, "
                                f"{city['baseline'][key]['source'][:40]}...) split by the county's share of the "
                                f"附件2 column {column} (largest remainder)"
                                + ("; at least one R&D body so the county's technology contracts have a seller"
                                   if key == "rd_institution_count" and n_inst == 0 else ""))
        for key in ("rd_intensity", "hightech_output_share", "national_incubators", "national_rd_institutions",
                    "little_giants"):
            b[key]["source"] = f"assumption: as the city ({b[key]['source'][:60]}...)"
        r["targets"] = [{"indicator": TARGET_COLUMNS[k][0], "year": 2023, "value": c[k], "unit": TARGET_COLUMNS[k][1],
                         "source": f"004 附件2 {c['name']} {alloc['columns'][k]}"} for k in TARGET_COLUMNS]
        r["targets"].append({"kind": "cumulative", "indicator": "results_converted", "from_year": 2021, "year": 2023,
                             "value": c["converted_results"], "unit": "项",
                             "source": f"004 附件2 {c['name']} {alloc['columns']['converted_results']} "
                                       "(2021-2023, as the city's 80 = 20 + 30 + 30 of 三.3)"})
        if rid == "sys_edz":
            r["targets"].append({"kind": "growth", "indicator": "gdp", "year": 2025, "value": 6, "unit": "%",
                                 "source": "001 一.(二); 二.5 经开区地区生产总值增速达到6% (2025 over 2024, nominal; "
                                           "the municipal economic development zone read as a 经开区)"})
        r["not_modelled"] = [
            {"row": "004 二 R&D强度1.5%, 技术合同3亿元, 规上工业企业有研发活动占比30%; 三.3 技术转移示范机构8家",
             "why": "city-wide targets, not allocated to counties by 附件2 (evaluated in regions/shuangyashan.yaml)"}]
        r["alliances"] = {
            "municipal": n_all - n_prov, "provincial": n_prov, "national": 0,
            "source": f"assumption: the city's 2021 count ({city_alliances['source']}) split by the county's share "
                      f"of the 附件2 column 产业联盟 ({c['alliances']}/{total['alliances']}, largest remainder)",
            "levels_source": f"assumption: the city's {city_alliances['provincial']} provincial alliances split in "
                             "proportion to the counties' counts (largest remainder); none national, as the city"}
        del r["transfer_institutions"]
        pop = r["population"]
        pop["n_firms"] = {"value": max(int(round(pop["n_firms"]["value"] * s)), 100),
                          "source": f"assumption: the city's {city['population']['n_firms']['value']} firms x {s:.4f}; "
                                    f"{why}"}
        pop["zjtx_firms"] = {"value": int(round(pop["zjtx_firms"]["value"] * s)),
                             "source": "assumption: the city's figure scaled by the county's share"}
        r["incubators"] = {
            "source": f"assumption: {n_car} of the city's 9 carriers (see baseline.incubator_count)",
            "carriers": [{"kind": "maker_space", "level": "municipal", "capacity": 15, "graduates": 2,
                          "count": n_car}],
            "capacity_source": "assumption: the size of the city's municipal maker spaces (regions/shuangyashan.yaml)"}
        members = [{"kind": "research_institute", "level": "municipal", "count": max(n_inst, 1), "rd_weight": 1,
                    "source": "assumption: see baseline.rd_institution_count"}]
        if c["name"] == COLLEGE_DISTRICT:
            members.insert(0, next(m for m in city["institutes"]["members"] if m["kind"] == "university"))
        r["institutes"] = {"source": "assumption: the county's share of the city's R&D institutions",
                           "members": members}
        header = (f"# {c['name']} ({en}), generated by make_shuangyashan_counties.py from regions/shuangyashan.yaml\n"
                  f"# and 004 附件2 ({ALLOCATION.name}). Do not edit by hand: edit those and re-run.\n"
                  f"# No county statistics exist (../shared/data has none for Shuangyashan's counties): the\n"
                  f"# baseline is the city's scaled by the county's share of 附件2 ({s:.1%}), so a target that\n"
                  f"# this share already meets in 2021 is met by construction (targets.csv: met_in_base_year).\n")
        (HERE / f"{rid}.yaml").write_text(header + yaml.safe_dump(r, allow_unicode=True, sort_keys=False,
                                                                    width=110), "utf-8")
        scenario = {"name": rid, "title": {"zh": f"双鸭山市{c['name']} 三年行动计划", "en": f"{en}, 004 as written"},
                    "region": rid, "horizon": 2035, "seed": 20211231, "replicates": 20, "policies": {},
                    "parameters": {}}
        (SCENARIOS / f"{rid}.yaml").write_text(
            f"# {c['name']}: region file generated from 004 附件2; all of 004's instruments at their defaults.\n"
            + yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False), "utf-8")
        print(rid, f"share {s:.3f}", f"firms {r['population']['n_firms']['value']}", f"HTE {n_hte}",
              f"carriers {n_car}", f"institutions {max(n_inst, 1)}", f"alliances {n_all} ({n_prov} provincial)")


if __name__ == "__main__":
    main()
