"""Variant names, order, colours and line styles, the same in every chart of a report."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from simulator.report.style import BASE_COLOR, LINESTYLES, NO_POLICY_COLOR, OTHER_COLORS

NO_POLICY = "no_policy"
#: Names of the two variants every run has; a scenario's own variants are named by their ``description``.
DEFAULT_VARIANT_NAMES = {"base": {"zh": "规划方案", "en": "policies as written"},
                         NO_POLICY: {"zh": "无政策 (反事实)", "en": "no policy (counterfactual)"}}

VariantNames = Mapping[str, Mapping[str, str]]


def variant_labels(scenario) -> dict[str, dict[str, str]]:
    """Chart names of a scenario's variants, ``{variant: {"zh": ..., "en": ...}}``.

    ``base`` and ``no_policy`` get :data:`DEFAULT_VARIANT_NAMES`; a named variant its ``description``
    (a ``{zh, en}`` pair, or one text used in both languages), else its id.
    """
    names = {k: dict(v) for k, v in DEFAULT_VARIANT_NAMES.items()}
    for name, variant in getattr(scenario, "variants", {}).items():
        text = variant.description
        if isinstance(text, str):
            names[name] = {"zh": text or name, "en": text or name}
        else:
            names[name] = {"zh": text.zh, "en": text.en}
    return names


def variant_label(variant: str, lang: str, names: VariantNames | None = None) -> str:
    """A variant's name in ``lang`` (from the scenario's descriptions), never a bare id where a name is known."""
    entry = (names or {}).get(variant) or DEFAULT_VARIANT_NAMES.get(variant)
    return entry.get(lang) or variant if entry else variant


def variant_order(variants: Iterable[str]) -> list[str]:
    """``base`` first, then the others in order of first appearance, ``no_policy`` last."""
    seen = list(dict.fromkeys(str(v) for v in variants))
    middle = [v for v in seen if v not in ("base", NO_POLICY)]
    return [v for v in ("base",) if v in seen] + middle + [v for v in (NO_POLICY,) if v in seen]


def variant_styles(variants: Iterable[str]) -> dict[str, tuple[str, object]]:
    """Colour and line style per variant, stable across charts of one report."""
    styles, k = {}, 0
    for v in variant_order(variants):
        if v == "base":
            styles[v] = (BASE_COLOR, "-")
        elif v == NO_POLICY:
            styles[v] = (NO_POLICY_COLOR, (0, (2, 1.5)))
        else:
            styles[v] = (OTHER_COLORS[k % len(OTHER_COLORS)], LINESTYLES[1 + k % (len(LINESTYLES) - 1)])
            k += 1
    return styles
