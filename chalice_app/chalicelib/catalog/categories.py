"""The catalog's categories: their names, the words shoppers use for them, and
which attributes a one-line summary shows.

Shared by the catalog generator (scripts/generate_catalog.py) and the runtime, so
a category is spelled the same in the data, the search and the replies.
"""

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

__all__ = ["Category", "CATEGORIES", "by_name"]


@dataclass(frozen=True)
class Category:
    name: str  # the value of a product's "category", e.g. "running shoes"
    singular: str  # "running shoe"
    terms: Tuple[str, ...]  # phrases that only name the category: dropped from the search text
    kinds: Tuple[str, ...]  # phrases that name it and a kind of it ("espresso machine"): kept as search text
    highlights: Tuple[str, ...]  # attribute keys a one-line product summary shows, in order


CATEGORIES: Tuple[Category, ...] = (
    Category(
        "running shoes",
        "running shoe",
        (
            "running shoes",
            "running shoe",
            "runners",
            "runner",
            "sneakers",
            "sneaker",
            "trainers",
            "jogging shoes",
            "shoes",
            "shoe",
            "running sneakers",
        ),
        ("trail runners", "trail running shoes", "racing flats", "racing shoes"),
        ("terrain", "support", "cushioning", "drop_mm", "waterproof"),
    ),
    Category(
        "headphones",
        "pair of headphones",
        ("headphones", "headphone", "earphones", "headset", "headsets"),
        ("earbuds", "earbud", "in-ear headphones", "over-ear headphones", "on-ear headphones"),
        ("form", "wireless", "noise_cancelling", "battery_hours", "water_resistance"),
    ),
    Category(
        "laptops",
        "laptop",
        ("laptops", "laptop", "notebook computer", "notebooks", "computer", "computers", "pc"),
        ("gaming laptop", "gaming laptops", "gaming pc", "chromebook", "chromebooks"),
        ("screen_in", "cpu", "ram_gb", "storage_gb", "gpu", "weight_kg"),
    ),
    Category(
        "backpacks",
        "backpack",
        (
            "backpacks",
            "backpack",
            "rucksack",
            "rucksacks",
            "bag",
            "bags",
            "knapsack",
            "daypack",
            "daypacks",
            "pack",
            "packs",
        ),
        ("hiking backpack", "travel backpack", "laptop backpack", "school backpack"),
        ("capacity_l", "use", "laptop_sleeve_in", "water_resistant"),
    ),
    Category(
        "coffee makers",
        "coffee maker",
        ("coffee makers", "coffee maker", "coffee machine", "coffee machines", "coffee brewer", "coffee"),
        (
            "espresso machine",
            "espresso machines",
            "espresso maker",
            "espresso",
            "french press",
            "pour over",
            "pour-over",
            "cold brew maker",
            "cold brew",
            "drip coffee maker",
            "pod machine",
        ),
        ("type", "capacity_cups", "built_in_grinder", "milk_frother", "programmable"),
    ),
    Category(
        "smartwatches",
        "smartwatch",
        ("smartwatches", "smartwatch", "smart watch", "smart watches", "watch", "watches"),
        ("fitness tracker", "fitness watch", "gps watch", "running watch"),
        ("gps", "battery_days", "display", "water_rating_atm", "ecg"),
    ),
    Category(
        "jackets",
        "jacket",
        ("jackets", "jacket", "coat", "coats"),
        (
            "raincoat",
            "rain coat",
            "rain jacket",
            "parka",
            "parkas",
            "windbreaker",
            "puffer",
            "puffer jacket",
            "down jacket",
            "fleece",
            "rain shell",
            "softshell",
            "insulated jacket",
        ),
        ("type", "waterproof", "insulation", "packable", "weight_g"),
    ),
    Category(
        "yoga mats",
        "yoga mat",
        ("yoga mats", "yoga mat", "exercise mat", "workout mat", "pilates mat", "mat", "mats", "yoga", "pilates"),
        ("travel mat", "travel yoga mat", "cork mat", "cork yoga mat"),
        ("thickness_mm", "material", "length_cm", "weight_kg", "foldable"),
    ),
    Category(
        "hiking boots",
        "hiking boot",
        (
            "hiking boots",
            "hiking boot",
            "hiking shoes",
            "hiking shoe",
            "walking boots",
            "trekking boots",
            "boots",
            "boot",
        ),
        ("mountaineering boots", "backpacking boots"),
        ("use", "cut", "waterproof", "weight_g"),
    ),
    Category(
        "tents",
        "tent",
        ("tents", "tent", "shelter"),
        ("backpacking tent", "camping tent", "family tent"),
        ("capacity_people", "seasons", "weight_kg", "freestanding"),
    ),
)

_BY_NAME: Dict[str, Category] = {category.name: category for category in CATEGORIES}


def by_name(name: str) -> Optional[Category]:
    return _BY_NAME.get(name)
