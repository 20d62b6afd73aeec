"""Additionality of every paid instrument, one at a time: what switching it off costs in outcomes.

For each scenario and each instrument that pays in it, the scenario as written (``base``) is compared
with the same scenario without that one instrument, replicate by replicate (common random numbers):
extra HTEs, extra R&D expenditure (万元) and extra R&D intensity in the plan's last target year, the
instrument's cumulative payments to that year (万元), and the ratios (extra HTEs per 100 万元, extra R&D
per 万元 paid). Writes ``calibration/diagnostics/instrument_response.csv``; the README's calibration
section reports it.

    python calibration/instrument_response.py [--replicates 20] [scenario.yaml ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.experiments.prepared import prepare
from simulator.experiments.results import plan_year

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ("qiqihar", "harbin", "heilongjiang", "baotou", "shuangyashan")


def _run(prepared, replicates: int, year: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, paid = [], []
    for k in range(replicates):
        model = prepared.model(k).run(year)
        r = pd.DataFrame(model.records).set_index("year").loc[year]
        rows.append({"replicate": k, "hte_count": r["hte_count"], "rd_expenditure": r["rd_expenditure"] * 1e4,
                     "rd_intensity": r["rd_intensity"]})
        ledger = model.government.payment_totals()
        paid.extend({"replicate": k, "instrument": i, "amount": a} for y, i, _p, _n, a in ledger if y <= year)
        model.release()
    return pd.DataFrame(rows).set_index("replicate"), pd.DataFrame(paid, columns=["replicate", "instrument", "amount"])


def response(scenario: str, replicates: int) -> pd.DataFrame:
    prepared = prepare(ROOT / "scenarios" / f"{scenario}.yaml", replicates=replicates)
    # the plan's last target year (2025 for 001, whose targets are not levels of an indicator)
    year = plan_year(prepared.region, pd.DataFrame({"year": [prepared.scenario.horizon]})) \
        if prepared.region.targets else 2025
    base, paid = _run(prepared, replicates, year)
    out = []
    for inst in sorted(set(paid["instrument"])):
        without, _ = _run(prepared.variant({inst: {"enabled": False}}), replicates, year)
        extra = base - without
        cost = paid[paid["instrument"] == inst].groupby("replicate")["amount"].sum().reindex(base.index, fill_value=0)
        total = float(cost.mean())
        out.append({"scenario": scenario, "year": year, "instrument": inst, "cost_wan": round(total, 1),
                    "extra_hte": round(float(extra["hte_count"].mean()), 2),
                    "extra_hte_p5": float(np.percentile(extra["hte_count"], 5)),
                    "extra_hte_p95": float(np.percentile(extra["hte_count"], 95)),
                    "extra_rd_wan": round(float(extra["rd_expenditure"].mean()), 1),
                    "extra_rd_intensity_pp": round(float(extra["rd_intensity"].mean()), 4),
                    "hte_per_100_wan": round(100 * float(extra["hte_count"].mean()) / total, 4) if total else None,
                    "rd_per_wan": round(float(extra["rd_expenditure"].mean()) / total, 3) if total else None,
                    "replicates": replicates})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", default=list(DEFAULT))
    ap.add_argument("--replicates", type=int, default=20, help="replicates per variant (common random numbers)")
    ap.add_argument("--out", default=str(ROOT / "calibration" / "diagnostics" / "instrument_response.csv"),
                    help="CSV file to write")
    args = ap.parse_args()
    table = pd.concat([response(s, args.replicates) for s in args.scenarios], ignore_index=True)
    table.to_csv(args.out, index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.to_string(index=False))


if __name__ == "__main__":
    main()
