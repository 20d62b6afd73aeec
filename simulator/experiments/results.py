"""Ensemble results as tables: summary bands, target probabilities, additionality and cost.

Every function takes the tidy indicator table (``variant, replicate, year,
indicator, value``) and returns a DataFrame; nothing here touches a model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom
from scipy.stats import t as student_t

from simulator.inputs.region_file import Region
from simulator.inputs.scenario_file import NO_POLICY
from simulator.model.indicators import INDICATORS

QUANTILES = {"p05": 0.05, "p25": 0.25, "median": 0.5, "p75": 0.75, "p95": 0.95}
#: outcomes whose additionality against no_policy is reported, with the unit of one "extra"
OUTCOMES = {"hte_count": "家", "rd_intensity": "percentage points", "gdp": "亿元"}
#: columns of the targets table, in order (also the header of an empty table: a region without targets)
TARGET_COLUMNS = ("variant", "indicator", "kind", "target_year", "target_value", "unit", "source", "probability_met",
                  "met_in_base_year", "median_first_year", "median", "p05", "p95", "replicates")


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Median and 5/25/75/95 % quantiles over replicates, per variant, indicator and year."""
    grouped = table.groupby(["variant", "indicator", "year"], sort=False)["value"]
    out = pd.concat({name: grouped.quantile(q) for name, q in QUANTILES.items()}, axis=1)
    return out.reset_index()


def _met(values: pd.Series | np.ndarray, indicator: str, target: float) -> np.ndarray:
    values = np.asarray(values)
    return values >= target if INDICATORS[indicator].higher_is_better else values <= target


def targets(table: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Per variant and target: probability met in the target year and median first year reached.

    ``probability_met`` is the share of replicates at (or beyond) the target in
    the target year ("达到": at or above; at or below for a rank).
    ``indicator`` is the series the target measures (its key, :mod:`simulator.inputs.series`: an
    indicator for a level, ``growth:gdp`` etc. for the other kinds) and ``kind`` its kind.
    ``met_in_base_year`` is true when every replicate meets the target already in the base
    year, before anything is simulated (met by construction of the base, e.g. a county copied
    from its city): not an achievement of the plan.
    ``median_first_year`` is the first year by which at least half of the
    replicates have met the target (the median of the first years, replicates
    that never meet it counting as later than the horizon); empty when fewer
    than half meet it by the horizon. One row per
    variant, ``indicator = all_targets``, gives the share of replicates meeting
    every target in its year.
    """
    rows = []
    for variant, part in table.groupby("variant", sort=False):
        wide = part.pivot_table(index="replicate", columns=["indicator", "year"], values="value")
        replicates = wide.index
        joint = np.ones(len(replicates), dtype=bool)
        for t in region.targets:
            key = t.key                  # the series of a target of any kind (simulator/targets.py)
            if (key, t.year) not in wide.columns:
                continue
            v = wide[(key, t.year)].to_numpy()
            met = _met(v, key, t.value)
            joint &= met
            series = wide[key]
            years = np.array(series.columns)
            reached = _met(series.to_numpy(), key, t.value)
            # met before anything was simulated: by construction of the base year (e.g. a county built as a
            # scaled copy of its city), not an achievement of the plan
            at_base = series[region.base_year].to_numpy() if region.base_year in series.columns else np.array([])
            met_at_base = bool(at_base.size) and bool(_met(at_base, key, t.value).all())
            first = np.where(reached.any(axis=1), years[np.argmax(reached, axis=1)], np.inf)
            median_first = float(np.quantile(first, 0.5, method="inverted_cdf"))
            rows.append({"variant": variant, "indicator": key, "kind": t.kind, "target_year": t.year,
                         "target_value": t.value, "unit": t.unit, "source": t.source,
                         "probability_met": float(met.mean()), "met_in_base_year": met_at_base,
                         "median_first_year": median_first if np.isfinite(median_first) else np.nan,
                         "median": float(np.median(v)), "p05": float(np.quantile(v, 0.05)),
                         "p95": float(np.quantile(v, 0.95)), "replicates": len(v)})
        if region.targets:
            rows.append({"variant": variant, "indicator": "all_targets", "target_year": np.nan,
                         "target_value": np.nan, "unit": "", "source": "every target above in its year",
                         "probability_met": float(joint.mean()), "met_in_base_year": np.nan,
                         "median_first_year": np.nan, "median": np.nan,
                         "p05": np.nan, "p95": np.nan, "replicates": len(replicates)})
    out = pd.DataFrame(rows, columns=list(TARGET_COLUMNS))   # headers even when the region has no target
    out["median_first_year"] = out["median_first_year"].astype("Int64")
    return out


def plan_year(region: Region, table: pd.DataFrame) -> int:
    """The year additionality is measured in: the region's last target year, else (or when the run stops
    earlier) the last year run."""
    years = [t.year for t in region.targets]
    last = int(table["year"].max())
    return min(max(years), last) if years else last


def median_interval(values: np.ndarray, level: float = 0.90) -> tuple[float, float]:
    """Distribution-free confidence interval of the median: order statistics ``x_(k)`` and
    ``x_(n+1-k)`` with ``k`` the largest rank such that P(Binomial(n, 1/2) < k) <= (1 - level) / 2.
    With too few values for that level (n < 5 at 90 %) the interval is the whole range of them,
    or (-inf, inf) when there is none."""
    x = np.sort(np.asarray(values, dtype=float))
    n = x.size
    if n == 0:
        return -np.inf, np.inf
    k = int(binom.ppf((1.0 - level) / 2.0, n, 0.5))      # P(B <= k - 1) <= alpha/2 < P(B <= k)
    if binom.cdf(k, n, 0.5) <= (1.0 - level) / 2.0:
        k += 1
    if k < 1:
        return -np.inf, np.inf                           # too few pairs to bound the median at this level
    return float(x[k - 1]), float(x[n - k])


def mean_interval(values: np.ndarray, level: float = 0.90) -> tuple[float, float]:
    """Student-t confidence interval of the mean of paired differences; (-inf, inf) with fewer than 2
    values. (With n >= 20 replicate pairs the mean of even a skewed difference is close to normal.)"""
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return -np.inf, np.inf
    half = float(student_t.ppf(0.5 + level / 2.0, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))
    return float(x.mean()) - half, float(x.mean()) + half


def gain_established(extra: np.ndarray, level: float = 0.90) -> bool:
    """Whether a gain is told apart from zero: the confidence intervals of both its median and its
    mean (``level``) lie above zero.

    Either alone is not enough. The median's order-statistic interval can sit above zero by a hair
    when a cluster of replicates is all but unaffected by the variant: in Qiqihar (20 replicates,
    seed 7) six replicates of ``talent_instead_of_awards`` gain 0.00005-0.00013 R&D-intensity points
    because their HTE history is the same as without policy, so the median gain is +0.000125 pp,
    "above zero", while the gain a planner can expect (the mean, +0.005 ± 0.015 pp) is not; the ratio
    was 26.6 million 万元 per point. The mean alone, in turn, can be carried by one outlying replicate.
    """
    extra = np.asarray(extra, dtype=float)
    return median_interval(extra, level)[0] > 0 and mean_interval(extra, level)[0] > 0


def additionality(table: pd.DataFrame, region: Region) -> pd.DataFrame:
    """Extra HTEs, R&D-intensity points and GDP of each variant against ``no_policy``, and their cost.

    Differences are taken replicate by replicate (common random numbers make
    replicate k of two variants differ only by policy). ``cost`` is the
    cumulative subsidy the variant paid from the base year to ``year`` (万元),
    less what ``no_policy`` paid (nothing). ``cost_per_unit_median`` is the
    ratio of the medians (万元 per extra unit), given only when the gain is
    established (:func:`gain_established`): the distribution-free 90 % confidence interval
    of the median extra (``extra_median_low`` .. ``extra_median_high``, binomial order
    statistics of the replicate pairs) and the 90 % t-interval of the mean extra
    (``extra_mean_low`` .. ``extra_mean_high``) both lie above zero. A gain that cannot be
    told apart from zero at this number of replicates would make the ratio arbitrarily large.
    """
    if NO_POLICY not in table["variant"].unique():   # (not set(column): a Python loop over a million rows)
        return pd.DataFrame()
    year = plan_year(region, table)
    upto = table[table["year"] <= year]
    paid = upto[upto["indicator"] == "subsidy_paid"].groupby(["variant", "replicate"])["value"].sum()
    at = table[table["year"] == year].pivot_table(index=["variant", "replicate"], columns="indicator", values="value")
    base = at.loc[NO_POLICY]
    rows = []
    for variant in table["variant"].unique():
        if variant == NO_POLICY:
            continue
        # replicate pairs present in both (a replicate that failed in either is left out of the pair)
        pairs = base.index.intersection(at.loc[variant].index)
        if pairs.empty:
            continue
        cost = (paid.get(variant, pd.Series(dtype=float)).reindex(pairs, fill_value=0.0)
                - paid.get(NO_POLICY, pd.Series(dtype=float)).reindex(pairs, fill_value=0.0)).to_numpy()
        for outcome, unit in OUTCOMES.items():
            extra = (at.loc[variant].loc[pairs, outcome] - base.loc[pairs, outcome]).to_numpy()
            med = float(np.median(extra))
            low, high = median_interval(extra)
            mean_low, mean_high = mean_interval(extra)
            cost_med = float(np.median(cost))
            rows.append({"variant": variant, "outcome": outcome, "year": year, "unit": unit,
                         "extra_median": med, "extra_median_low": low, "extra_median_high": high,
                         "extra_mean": float(np.mean(extra)), "extra_mean_low": mean_low,
                         "extra_mean_high": mean_high,
                         "extra_p05": float(np.quantile(extra, 0.05)),
                         "extra_p95": float(np.quantile(extra, 0.95)), "cost_median": cost_med,
                         "cost_p05": float(np.quantile(cost, 0.05)), "cost_p95": float(np.quantile(cost, 0.95)),
                         "cost_per_unit_median": cost_med / med if gain_established(extra) else np.nan,
                         "replicates": len(pairs)})
    return pd.DataFrame(rows)


def payment_summary(ledgers: list[pd.DataFrame]) -> pd.DataFrame:
    """Payments per variant, replicate, year and instrument: number of recipients and total 万元."""
    keys = ["variant", "replicate", "year", "instrument", "payer"]
    if not ledgers:
        return pd.DataFrame(columns=[*keys, "recipients", "amount"])
    ledger = pd.concat(ledgers, ignore_index=True)
    return ledger.groupby(keys, sort=True)["amount"].agg(recipients="size", amount="sum").reset_index()


INSTRUMENT_STATUS_COLUMNS = ["variant", "instrument", "clause", "status", "paid_mean", "recipients_mean",
                             "first_year_paid", "reason"]
#: the one line a run prints (and its manifest records) when no instrument paid anything
NOTHING_PAID = "no instrument paid in this run"


def _trigger_evidence(inst, table: pd.DataFrame, variant: str, years: tuple[int, int]) -> str:
    """What the indicators show about an instrument's trigger in its active years (or '' if nothing apt)."""
    part = table[(table["variant"] == variant) & table["year"].between(years[0] - 1, years[1])]
    if inst.trigger == "rank_improved":
        rank = part[part["indicator"] == "national_rank"].pivot_table(index="replicate", columns="year",
                                                                    values="value")
        if rank.shape[1] < 2:
            return ""
        gains = (rank.shift(axis=1) - rank).loc[:, [y for y in rank.columns if y >= years[0]]]
        best = float(np.nanmax(gains.to_numpy())) if gains.size else np.nan
        if np.isfinite(best):
            return (f"the largest yearly gain in any replicate was {best:g} place{'s' if best != 1 else ''} "
                    f"(rank {rank.iloc[:, 0].median():g} at the start, {rank.iloc[:, -1].median():g} at the end, "
                    "medians)")
    if inst.trigger == "hte_certified":
        flows = part[part["indicator"].isin(["hte_new_certifications", "hte_recertifications"])
                     & (part["year"] >= years[0])]
        if not flows.empty:
            return f"{flows['value'].sum():g} certifications in all replicates together"
    return ""


def instrument_status(variants: dict, payments: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per variant (but ``no_policy``) and modelled instrument: whether it paid in the run and, if not, why.

    ``status`` is ``paid``, ``switched off``, ``outside the run's years``, ``pays nothing`` (scale or
    budget 0) or ``never triggered`` (``reason`` says what it pays for and, where the indicators show
    it, how far the run was from that: e.g. the largest yearly rank gain against the rank award's
    5 places). A variant whose region has no instrument the model pays gets one row, status
    ``none modelled``. ``paid_mean`` and ``recipients_mean`` are totals over the run's years, mean over
    replicates (万元, recipients counted once per year paid).

    Args:
        variants: variant name -> :class:`~simulator.experiments.prepared.Prepared` (as run).
        payments: the run's payments table (``variant, replicate, year, instrument, payer, recipients, amount``).
        table: the run's tidy indicator table.
    """
    rows = []
    first_year, last_year = int(table["year"].min()) + 1, int(table["year"].max())
    for name, prepared in variants.items():
        if name == NO_POLICY:
            continue
        replicates = max(int(table.loc[table["variant"] == name, "replicate"].nunique()), 1)
        paid = payments[payments["variant"] == name]
        instruments = prepared.instruments()
        if not instruments:
            catalogues = ", ".join(prepared.region.policy_catalogues) or "none"
            rows.append({"variant": name, "instrument": "", "clause": "", "status": "none modelled",
                         "paid_mean": 0.0, "recipients_mean": 0.0, "first_year_paid": pd.NA,
                         "reason": f"the region's policy catalogues ({catalogues}) hold no instrument the model "
                                   f"pays; `innosim policies --region {prepared.scenario.region}` gives each "
                                   "instrument's reason"})
            continue
        for inst in instruments:
            mine = paid[paid["instrument"] == inst.id]
            row = {"variant": name, "instrument": inst.id, "clause": inst.clause,
                   "paid_mean": float(mine["amount"].sum()) / replicates,
                   "recipients_mean": float(mine["recipients"].sum()) / replicates,
                   "first_year_paid": int(mine["year"].min()) if len(mine) else pd.NA}
            start = max(inst.start_year or first_year, first_year)
            end = min(inst.end_year or last_year, last_year)
            if row["paid_mean"] > 0:
                status, reason = "paid", ""
            elif not inst.enabled:
                status, reason = "switched off", "switched off in this variant"
            elif start > end:
                status = "outside the run's years"
                reason = (f"its years ({inst.start_year or '…'}–{inst.end_year or '…'}) do not overlap the run's "
                          f"{first_year}–{last_year}")
            elif inst.scale == 0 or inst.budget == 0:
                status, reason = "pays nothing", "scale 0" if inst.scale == 0 else "annual budget 0"
            else:
                status = "never triggered"
                evidence = _trigger_evidence(inst, table, name, (start, end))
                reason = (f"it pays when {inst.pays_when()}; that never happened in {start}–{end} in any of "
                          f"{replicates} replicates" + (f": {evidence}" if evidence else ""))
            rows.append({**row, "status": status, "reason": reason})
    out = pd.DataFrame(rows, columns=INSTRUMENT_STATUS_COLUMNS)
    out["first_year_paid"] = out["first_year_paid"].astype("Int64")
    return out


def nothing_paid(status: pd.DataFrame) -> bool:
    """Whether no instrument paid anything in any variant of the run."""
    return not (status["status"] == "paid").any()
