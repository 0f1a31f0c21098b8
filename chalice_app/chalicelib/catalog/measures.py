"""Numeric attributes as measures: the unit is read from the attribute's name ("weight_kg",
"battery_hours", "capacity_people"), so a bound a shopper states ("under 1.3 kilos") applies to
whichever attribute of a product measures that dimension, in its own unit.

A measure bound is ``(dimension, hint, op, value, unit)``: ``value`` in the dimension's base unit
(grams, millimetres, litres, hours, people, GB, cups, bar, atm), ``hint`` an attribute stem the
shopper named ("thickness", "ram") or "", ``op`` one of "min", "max", "above", "below" (strict), "near", "default", and
``unit`` the unit suffix the shopper said ("mm"), which picks between two attributes of one
dimension (a yoga mat's thickness_mm and length_cm).
"""

import functools
import math
from typing import Any, Dict, List, Optional, Tuple

__all__ = ["UNITS", "Measure", "attribute_for", "default_op", "dimension", "satisfies"]

Measure = Tuple[str, str, str, float, str]
Product = Dict[str, Any]

# attribute-name suffix -> (dimension, factor to the dimension's base unit)
UNITS: Dict[str, Tuple[str, float]] = {
    "g": ("mass", 1.0),
    "kg": ("mass", 1000.0),
    "mm": ("length", 1.0),
    "cm": ("length", 10.0),
    "in": ("length", 25.4),
    "l": ("volume", 1.0),
    "hours": ("time", 1.0),
    "days": ("time", 24.0),
    "minutes": ("time", 1 / 60),
    "people": ("people", 1.0),
    "gb": ("data", 1.0),
    "cups": ("cups", 1.0),
    "bar": ("pressure", 1.0),
    "atm": ("atm", 1.0),
}
# Attributes where less is what a shopper asks for by default ("a 2 kg tent": at most 2 kg),
# and sizes asked for as such ("a 14 inch laptop": about 14 inches).
_LESS_IS_ASKED = ("weight", "setup")
_SIZE_ASKED = ("screen", "case", "drop", "thickness", "length")
_NEAR = 0.15  # "around 25 litres": within 15 %


def dimension(key: str) -> Optional[Tuple[str, float]]:
    """ "weight_kg" -> ("mass", 1000.0); None for an attribute without a unit."""
    stem, _, suffix = key.rpartition("_")
    return UNITS.get(suffix) if stem else None


def stem(key: str) -> str:
    return key.rpartition("_")[0]


def default_op(key: str) -> str:
    name = stem(key)
    if name.startswith(_LESS_IS_ASKED):
        return "max"
    return "near" if name.startswith(_SIZE_ASKED) else "min"


def attribute_for(product: Product, measure: Measure) -> Optional[str]:
    """The product's attribute the bound is about: of its dimension, the one the shopper named,
    else the one in the unit said, else the one whose value is nearest in magnitude."""
    wanted, hint, _op, value, unit = measure
    keys = [key for key, got in product["attributes"].items() if _numeric(got) and _dim(key) == wanted]
    if len(keys) > 1 and hint:
        keys = [key for key in keys if stem(key).startswith(hint) or hint in stem(key)] or keys
    if len(keys) > 1:
        keys = [key for key in keys if key.rpartition("_")[2] == unit] or keys
    if not keys:
        return None
    return min(keys, key=lambda key: _distance(_ranges().get(key, (value, value)), value))


@functools.lru_cache(maxsize=1)
def _ranges() -> Dict[str, Tuple[float, float]]:
    """Each measured attribute's range over the catalog, in base units: 256 GB is storage, 16 GB is RAM."""
    from chalicelib.catalog import data

    found: Dict[str, List[float]] = {}
    for item in data.products():
        for key, got in item["attributes"].items():
            if _numeric(got) and dimension(key):
                found.setdefault(key, []).append(_base(item, key))
    return {key: (min(values), max(values)) for key, values in found.items()}


def _distance(span: Tuple[float, float], value: float) -> float:
    """How far (in orders of magnitude) a value lies outside an attribute's range; 0 inside it."""
    low, high = span
    if low <= value <= high:
        return 0.0
    edge = low if value < low else high
    return abs(math.log((value + 1) / (edge + 1)))


def satisfies(product: Product, measures: List[Measure]) -> bool:
    return all(_within(product, measure) for measure in measures)


def _within(product: Product, measure: Measure) -> bool:
    key = attribute_for(product, measure)
    if key is None:
        return False
    got, op, value = _base(product, key), measure[2], measure[3]
    op = default_op(key) if op == "default" else op
    slack = 1e-9 + abs(value) * 1e-9
    return _COMPARE[op](got, value, slack)


_COMPARE = {
    "min": lambda got, value, slack: got >= value - slack,
    "max": lambda got, value, slack: got <= value + slack,
    "above": lambda got, value, slack: got > value + slack,
    "below": lambda got, value, slack: got < value - slack,
    "near": lambda got, value, slack: abs(got - value) <= abs(value) * _NEAR + slack,
}


def _dim(key: str) -> Optional[str]:
    found = dimension(key)
    return found[0] if found else None


def _base(product: Product, key: str) -> float:
    return float(product["attributes"][key]) * UNITS[key.rpartition("_")[2]][1]


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
