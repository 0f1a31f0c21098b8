#!/usr/bin/env python
"""Generate the product catalog: chalice_app/chalicelib/catalog/products.json.

    python chalice_app/scripts/generate_catalog.py          # rewrite the file
    python chalice_app/scripts/generate_catalog.py --check  # exit 1 if it is out of date

Deterministic: one seeded ``random.Random`` and a fixed order of everything, so a
rebuild gives the identical file (a test checks this). Brands are real, model
names are invented: the catalog is demo data, not real products or prices.
Change the data here, never by editing products.json.
"""

import argparse
import json
import os
import random
import sys
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

from chalicelib.catalog.categories import CATEGORIES

SEED = 20251126
PER_CATEGORY = 36
OUTPUT = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "chalicelib", "catalog", "products.json"
)
TIERS = ("budget", "mid", "premium")

# A brand's lean: -1 mostly budget, 0 anywhere, +1 mostly premium.
Brand = Tuple[str, int]
# (model name without the brand, attributes, the description's first sentence,
#  a price factor for what the attributes add or take away)
Made = Tuple[str, Dict[str, Any], str, float]


@dataclass(frozen=True)
class Spec:
    category: str
    code: str
    brands: Sequence[Brand]
    prices: Dict[str, Tuple[float, float]]  # tier -> (low, high) before the attribute premium
    make: Callable[[random.Random, str, str], Made]
    uses: Sequence[str]  # second sentences of descriptions: what it is good for


# --- one maker per category: (rng, brand, tier) -> name, attributes, sentence, factor ---


def running_shoe(rng: random.Random, brand: str, tier: str) -> Made:
    trail = brand == "Salomon" or rng.random() < 0.3
    terrain = "trail" if trail else "road"
    support = "stability" if rng.random() < 0.3 else "neutral"
    cushioning = rng.choice(
        {"budget": ["light", "moderate"], "mid": ["moderate", "max"], "premium": ["max", "max", "moderate"]}[tier]
    )
    waterproof = trail and rng.random() < 0.35
    series = rng.choice(
        ["Ridge", "Summit", "Rockline", "Switchback"]
        if trail
        else ["Glide", "Tempo", "Stride", "Pulse", "Nova", "Vector", "Drift", "Surge", "Zephyr", "Flux"]
    )
    name = f"{series} {rng.randint(1, 12)}" + (" GTX" if waterproof else "")
    attributes = {
        "terrain": terrain,
        "support": support,
        "cushioning": cushioning,
        "drop_mm": rng.choice([0, 4, 5, 6, 8, 8, 10, 12]),
        "weight_g": rng.randrange(190, 320, 5),
        "gender": rng.choice(["men", "women", "unisex"]),
        "waterproof": waterproof,
    }
    what = f"A {cushioning}-cushioned {support} {terrain} running shoe"
    if waterproof:
        what += " with a waterproof membrane"
    return name, attributes, what + ".", 1.1 if waterproof else 1.0


def headphones(rng: random.Random, brand: str, tier: str) -> Made:
    form = rng.choice(["over-ear", "over-ear", "on-ear", "in-ear", "in-ear"])
    wireless = form == "in-ear" or rng.random() < 0.8
    noise_cancelling = wireless and (tier == "premium" or (tier == "mid" and rng.random() < 0.75))
    sport = form == "in-ear" and rng.random() < 0.45
    series = rng.choice(["Aura", "Echo", "Studio", "Flow", "Quiet", "Tune", "Arc", "Wave", "Halo", "Sonic"])
    if form == "in-ear":
        name = f"{'Sport' if sport else series} Buds {rng.randint(2, 9)}" + (" ANC" if noise_cancelling else "")
    else:
        name = f"{series} {rng.choice([300, 400, 500, 600, 700, 800, 900])}" + (" NC" if noise_cancelling else "")
    attributes = {
        "form": form,
        "wireless": wireless,
        "noise_cancelling": noise_cancelling,
        "battery_hours": rng.choice([6, 8, 10] if form == "in-ear" else [20, 30, 40, 50, 60]) if wireless else 0,
        "water_resistance": rng.choice(["IPX4", "IPX5", "IPX7"]) if sport else "none",
        "microphone": True,
    }
    kind = {"over-ear": "over-ear headphones", "on-ear": "on-ear headphones", "in-ear": "earbuds"}[form]
    what = f"{'Wireless' if wireless else 'Wired'} {kind}"
    if noise_cancelling:
        what += " with active noise cancelling"
    if sport:
        what += ", sweat-resistant for running and workouts"
    return name, attributes, what + ".", 1.0 if wireless else 0.7


def laptop(rng: random.Random, brand: str, tier: str) -> Made:
    gaming = brand in ("MSI", "Razer") or (brand in ("Asus", "Acer", "Lenovo") and rng.random() < 0.25)
    screen = rng.choice([15.6, 16, 17.3] if gaming else [13.3, 14, 14, 15.6, 16])
    ram = rng.choice({"budget": [8, 8, 16], "mid": [16, 16, 32], "premium": [32, 32, 64]}[tier])
    storage = rng.choice({"budget": [256, 512], "mid": [512, 1024], "premium": [1024, 2048]}[tier])
    cpu = rng.choice(
        {
            "budget": ["Intel Core i3", "Intel Core i5", "AMD Ryzen 5"],
            "mid": ["Intel Core i5", "Intel Core i7", "AMD Ryzen 7"] + ([] if gaming else ["Snapdragon X Plus"]),
            "premium": ["Intel Core Ultra 7", "Intel Core Ultra 9", "AMD Ryzen 9"]
            + ([] if gaming else ["Snapdragon X Elite"]),
        }[tier]
    )
    gpu = (
        rng.choice({"budget": ["RTX 4050"], "mid": ["RTX 4060"], "premium": ["RTX 4070", "RTX 4080"]}[tier])
        if gaming
        else "integrated"
    )
    use = "gaming" if gaming else rng.choice(["everyday", "business", "student", "creator"])
    series = rng.choice(
        ["Stealth", "Blade", "Raider", "Strix"]
        if gaming
        else ["Inspire", "Zen", "Vision", "Swift", "Aero", "Flex", "Edge", "Slim", "Spectra", "Nomad"]
    )
    name = f"{series} {int(screen)} Gen {rng.randint(2, 9)}"
    weight = round(rng.uniform(2.0, 2.9) if gaming else rng.uniform(1.1, 1.9) + (screen - 13) * 0.1, 2)
    attributes = {
        "screen_in": screen,
        "cpu": cpu,
        "ram_gb": ram,
        "storage_gb": storage,
        "gpu": gpu,
        "weight_kg": weight,
        "battery_hours": rng.randint(4, 8) if gaming else rng.randint(8, 20),
        "use": use,
        "os": "ChromeOS" if tier == "budget" and rng.random() < 0.25 else "Windows 11",
    }
    what = f"A {screen:g}-inch {use} laptop with an {cpu}, {ram} GB RAM and {_storage(storage)} SSD"
    if gaming:
        what += f", {gpu} graphics"
    return name, attributes, what + ".", 1.15 if gaming else 1.0


def _storage(gigabytes: int) -> str:
    return f"{gigabytes // 1024} TB" if gigabytes >= 1024 else f"{gigabytes} GB"


def backpack(rng: random.Random, brand: str, tier: str) -> Made:
    use = rng.choice(["hiking", "travel", "commuting", "school", "hiking"])
    capacity = rng.choice(
        {
            "hiking": [18, 22, 28, 33, 40, 48, 55, 65],
            "travel": [30, 35, 40, 45],
            "commuting": [18, 20, 24, 26],
            "school": [20, 24, 28],
        }[use]
    )
    sleeve = 0 if use == "hiking" else rng.choice([13, 15, 16, 17])
    series = rng.choice(
        ["Trailhead", "Summit", "Metro", "Voyager", "Basecamp", "Scout", "Nomad", "Transit", "Ridgeline", "Campus"]
    )
    name = f"{series} {capacity}"
    attributes = {
        "capacity_l": capacity,
        "use": use,
        "laptop_sleeve_in": sleeve,
        "water_resistant": rng.random() < (0.8 if tier == "premium" else 0.5),
        "weight_g": rng.randrange(450, 1900 if use == "hiking" else 1300, 10),
        "material": rng.choice(["recycled nylon", "ripstop nylon", "polyester", "waxed canvas"]),
    }
    what = f"A {capacity} L {use} backpack"
    if sleeve:
        what += f" with a padded sleeve for laptops up to {sleeve} inches"
    return name, attributes, what + ".", 1.0


COFFEE_TYPES_BY_BRAND = {
    "Breville": ["espresso", "drip", "espresso"],
    "De'Longhi": ["espresso", "super-automatic"],
    "Gaggia": ["espresso", "super-automatic"],
    "Keurig": ["pod"],
    "Nespresso": ["pod"],
    "Chemex": ["pour-over"],
    "Bodum": ["french press", "pour-over", "cold brew"],
    "Technivorm": ["drip"],
}
# Against the price of an espresso machine of the same tier.
COFFEE_PRICE_FACTORS = {
    "espresso": 1.0,
    "super-automatic": 1.5,
    "drip": 0.35,
    "pod": 0.4,
    "pour-over": 0.15,
    "french press": 0.12,
    "cold brew": 0.18,
}
COFFEE_TYPE_NAMES = {
    "espresso": "Espresso Machine",
    "super-automatic": "Super-Automatic Espresso Machine",
    "drip": "Drip Coffee Maker",
    "pod": "Pod Coffee Maker",
    "pour-over": "Pour-Over Brewer",
    "french press": "French Press",
    "cold brew": "Cold Brew Maker",
}


def coffee_maker(rng: random.Random, brand: str, tier: str) -> Made:
    kind = rng.choice(COFFEE_TYPES_BY_BRAND.get(brand, ["drip", "drip", "cold brew", "espresso"]))
    electric = kind not in ("pour-over", "french press", "cold brew")
    espresso = kind in ("espresso", "super-automatic")
    series = rng.choice(
        ["Crema", "Aroma", "Barista", "Classic", "Select", "Precision", "Velvet", "Morning", "Artisan", "Bloom"]
    )
    name = f"{series} {COFFEE_TYPE_NAMES[kind]}" + (f" {rng.randint(2, 9)}00" if electric else "")
    grinder = kind == "super-automatic" or (espresso and tier == "premium" and rng.random() < 0.6)
    attributes = {
        "type": kind,
        "capacity_cups": 1 if espresso or kind == "pod" else rng.choice([4, 6, 8, 10, 12, 14]),
        "built_in_grinder": grinder,
        "milk_frother": espresso and rng.random() < 0.8,
        "programmable": kind in ("drip", "super-automatic") and rng.random() < 0.7,
        "pressure_bar": 15 if espresso else 0,
    }
    what = {
        "espresso": "A 15-bar espresso machine",
        "super-automatic": "A bean-to-cup espresso machine",
        "drip": f"A {attributes['capacity_cups']}-cup drip coffee maker",
        "pod": "A single-serve pod machine",
        "pour-over": "A glass pour-over brewer",
        "french press": "A classic French press",
        "cold brew": "A cold brew coffee maker",
    }[kind]
    if grinder:
        what += " with a built-in burr grinder"
    if attributes["milk_frother"]:
        what += " and a steam wand for milk"
    return name, attributes, what + ".", COFFEE_PRICE_FACTORS[kind]


def smartwatch(rng: random.Random, brand: str, tier: str) -> Made:
    gps = tier != "budget" or rng.random() < 0.4
    display = "MIP" if brand in ("Garmin", "Coros", "Suunto") and rng.random() < 0.5 else "AMOLED"
    series = rng.choice(["Pace", "Active", "Trek", "Pulse", "Fit", "Sense", "Horizon", "Venture", "Balance", "Vivid"])
    name = f"{series} {rng.randint(2, 9)}" + (" Pro" if tier == "premium" and rng.random() < 0.5 else "")
    attributes = {
        "gps": gps,
        "battery_days": rng.choice([2, 3, 7, 10, 14, 21] if display == "AMOLED" else [14, 21, 28, 40]),
        "display": display,
        "water_rating_atm": rng.choice([5, 10]),
        "case_mm": rng.choice([40, 42, 44, 45, 46, 47, 51]),
        "heart_rate": True,
        "ecg": tier == "premium" and rng.random() < 0.6,
        "sleep_tracking": True,
    }
    what = (
        f"A smartwatch with {'built-in GPS, ' if gps else ''}a {display} display and up to "
        f"{attributes['battery_days']} days of battery"
    )
    return name, attributes, what + ".", 1.0 if gps else 0.8


JACKET_TYPE_NAMES = {
    "rain": "Rain Jacket",
    "down": "Down Jacket",
    "insulated": "Insulated Jacket",
    "fleece": "Fleece Jacket",
    "softshell": "Softshell Jacket",
    "windbreaker": "Windbreaker",
    "parka": "Parka",
}


JACKET_PRICE_FACTORS = {
    "rain": 0.9,
    "down": 1.1,
    "insulated": 1.0,
    "fleece": 0.5,
    "softshell": 0.8,
    "windbreaker": 0.55,
    "parka": 1.3,
}


def jacket(rng: random.Random, brand: str, tier: str) -> Made:
    kind = rng.choice(list(JACKET_TYPE_NAMES))
    waterproof = kind in ("rain", "parka") or (kind == "insulated" and rng.random() < 0.3)
    insulation = {
        "down": rng.choice(["650-fill down", "800-fill down"]),
        "parka": "synthetic",
        "insulated": "synthetic",
    }.get(kind, "none")
    series = rng.choice(
        ["Alpine", "Storm", "Cascade", "Torrent", "Ember", "Glacier", "Ridge", "Nimbus", "Tundra", "Drizzle"]
    )
    name = f"{series} {JACKET_TYPE_NAMES[kind]}"
    attributes = {
        "type": kind,
        "waterproof": waterproof,
        "insulation": insulation,
        "gender": rng.choice(["men", "women", "unisex"]),
        "weight_g": rng.randrange(180, 450, 10)
        if kind in ("rain", "windbreaker", "down")
        else rng.randrange(400, 1200, 10),
        "packable": kind in ("rain", "windbreaker", "down") and rng.random() < 0.8,
        "hood": kind != "fleece" or rng.random() < 0.3,
    }
    what = f"A {'waterproof ' if waterproof else ''}{JACKET_TYPE_NAMES[kind].lower()}"
    if insulation != "none":
        what += f" with {insulation} insulation"
    return name, attributes, what + ".", JACKET_PRICE_FACTORS[kind]


def yoga_mat(rng: random.Random, brand: str, tier: str) -> Made:
    material = rng.choice(
        {
            "budget": ["TPE", "PVC", "TPE"],
            "mid": ["TPE", "natural rubber", "PU and rubber"],
            "premium": ["natural rubber", "PU and rubber", "cork"],
        }[tier]
    )
    if brand == "Yoloha":
        material = "cork"
    foldable = rng.random() < 0.2
    thickness = 1.5 if foldable else rng.choice([3, 4, 5, 5, 6, 8, 10])
    series = (
        "Travel"
        if foldable
        else rng.choice(["Pro", "Lite", "Grip", "Align", "Balance", "Flow", "Essential", "Eco", "Studio", "Zen"])
    )
    name = f"{series} Mat {thickness:g} mm"
    attributes = {
        "thickness_mm": thickness,
        "material": material,
        "length_cm": rng.choice([173, 180, 183, 185, 200]),
        "weight_kg": round(rng.uniform(0.9, 1.5) if foldable else rng.uniform(1.0, 3.5), 1),
        "non_slip": material != "PVC" or rng.random() < 0.5,
        "foldable": foldable,
    }
    what = f"A {thickness:g} mm {material} yoga mat"
    if foldable:
        what += " that folds small for travel"
    return name, attributes, what + ".", 1.0


def hiking_boot(rng: random.Random, brand: str, tier: str) -> Made:
    use = rng.choice(
        ["day hiking", "day hiking", "backpacking", "mountaineering" if tier == "premium" else "backpacking"]
    )
    cut = "high" if use == "mountaineering" else rng.choice(["low", "mid", "mid"])
    waterproof = use != "day hiking" or rng.random() < 0.6
    series = rng.choice(
        ["Trailblazer", "Ridge", "Canyon", "Traverse", "Pinnacle", "Crest", "Ascent", "Granite", "Timber", "Summit"]
    )
    name = f"{series} {cut.title()}" + (" GTX" if waterproof else "")
    attributes = {
        "use": use,
        "cut": cut,
        "waterproof": waterproof,
        "gender": rng.choice(["men", "women", "unisex"]),
        "weight_g": rng.randrange(380, 700, 10) if use == "day hiking" else rng.randrange(600, 1100, 10),
        "vibram_sole": tier != "budget" and rng.random() < 0.7,
    }
    what = f"A {'waterproof ' if waterproof else ''}{cut}-cut boot for {use}"
    return name, attributes, what + ".", 1.25 if use == "mountaineering" else 1.0


def tent(rng: random.Random, brand: str, tier: str) -> Made:
    use = rng.choice(["backpacking", "backpacking", "camping", "family"])
    people = {
        "backpacking": rng.choice([1, 2, 2, 3]),
        "camping": rng.choice([2, 3, 4]),
        "family": rng.choice([4, 6, 8]),
    }[use]
    seasons = 4 if tier == "premium" and rng.random() < 0.3 else 3
    series = rng.choice(
        ["Nomad", "Aurora", "Horizon", "Pinecrest", "Lakeside", "Skyline", "Wanderer", "Meadow", "Ridgeback", "Firefly"]
    )
    name = f"{series} {people}P"
    weight = round(people * (rng.uniform(0.6, 1.0) if use == "backpacking" else rng.uniform(1.5, 2.6)), 1)
    attributes = {
        "capacity_people": people,
        "seasons": seasons,
        "weight_kg": weight,
        "use": use,
        "freestanding": rng.random() < 0.7,
        "setup_minutes": rng.choice([5, 8, 10, 15]),
    }
    what = f"A {seasons}-season {people}-person {use} tent weighing {weight:g} kg"
    return name, attributes, what + ".", {"backpacking": 1.0, "camping": 0.6, "family": 0.85}[use]


SPECS: Tuple[Spec, ...] = (
    Spec(
        "running shoes",
        "RUN",
        [
            ("Nike", 0),
            ("Adidas", 0),
            ("Asics", 0),
            ("Brooks", 0),
            ("Hoka", 1),
            ("New Balance", 0),
            ("Saucony", 0),
            ("On", 1),
            ("Puma", -1),
            ("Salomon", 1),
        ],
        {"budget": (55, 95), "mid": (95, 150), "premium": (150, 230)},
        running_shoe,
        [
            "Built for daily training miles and long runs.",
            "A good pick for a first marathon.",
            "Light and responsive for tempo days and races.",
            "Comfortable enough for walking all day.",
            "Grippy outsole for wet pavement and light trails.",
        ],
    ),
    Spec(
        "headphones",
        "HPH",
        [
            ("Sony", 1),
            ("Bose", 1),
            ("Sennheiser", 1),
            ("JBL", -1),
            ("Beats", 0),
            ("Audio-Technica", 0),
            ("Anker Soundcore", -1),
            ("Jabra", 0),
            ("Skullcandy", -1),
        ],
        {"budget": (25, 90), "mid": (90, 220), "premium": (220, 450)},
        headphones,
        [
            "Great for commuting and flights.",
            "Balanced sound for music and podcasts.",
            "Clear calls with a built-in microphone.",
            "Punchy bass for workouts.",
            "Comfortable for long listening sessions.",
        ],
    ),
    Spec(
        "laptops",
        "LAP",
        [
            ("Dell", 0),
            ("Lenovo", 0),
            ("HP", 0),
            ("Asus", 0),
            ("Acer", -1),
            ("Microsoft", 1),
            ("MSI", 0),
            ("Razer", 1),
            ("Framework", 0),
            ("Samsung", 0),
        ],
        {"budget": (349, 699), "mid": (700, 1299), "premium": (1300, 2699)},
        laptop,
        [
            "Handles office work, browsing and video calls with ease.",
            "Good for programming and coursework.",
            "Bright screen for photo and video editing.",
            "Runs modern games at high settings.",
            "Light enough to carry every day.",
        ],
    ),
    Spec(
        "backpacks",
        "BAG",
        [
            ("Osprey", 1),
            ("The North Face", 0),
            ("Patagonia", 1),
            ("Deuter", 0),
            ("Herschel", 0),
            ("Gregory", 1),
            ("Nike", -1),
            ("Peak Design", 1),
            ("JanSport", -1),
        ],
        {"budget": (30, 70), "mid": (70, 150), "premium": (150, 280)},
        backpack,
        [
            "Comfortable straps for long days.",
            "Lots of pockets to stay organised.",
            "Fits as airline carry-on.",
            "Ventilated back panel for hot weather.",
            "Durable enough for years of daily use.",
        ],
    ),
    Spec(
        "coffee makers",
        "COF",
        [
            ("Breville", 1),
            ("De'Longhi", 0),
            ("Keurig", -1),
            ("Cuisinart", 0),
            ("Nespresso", 0),
            ("Hamilton Beach", -1),
            ("Mr. Coffee", -1),
            ("Technivorm", 1),
            ("Chemex", 0),
            ("Bodum", -1),
            ("Ninja", 0),
            ("Gaggia", 1),
        ],
        {"budget": (120, 260), "mid": (260, 600), "premium": (600, 900)},
        coffee_maker,
        [
            "Makes a great cup for a busy morning.",
            "Easy to clean and descale.",
            "Brews a full-bodied cup.",
            "A compact footprint for small kitchens.",
            "Consistent temperature for better extraction.",
        ],
    ),
    Spec(
        "smartwatches",
        "WCH",
        [
            ("Garmin", 1),
            ("Samsung", 0),
            ("Fitbit", -1),
            ("Amazfit", -1),
            ("Polar", 0),
            ("Suunto", 1),
            ("Coros", 0),
            ("Withings", 0),
            ("Huawei", 0),
        ],
        {"budget": (79, 180), "mid": (180, 400), "premium": (400, 850)},
        smartwatch,
        [
            "Tracks runs, rides and swims.",
            "Sleep and stress tracking with daily insights.",
            "Notifications from your phone on your wrist.",
            "A good first running watch.",
            "Accurate heart rate for training zones.",
        ],
    ),
    Spec(
        "jackets",
        "JKT",
        [
            ("The North Face", 0),
            ("Patagonia", 1),
            ("Columbia", -1),
            ("Arc'teryx", 1),
            ("Marmot", 0),
            ("Helly Hansen", 0),
            ("Outdoor Research", 0),
            ("Rab", 1),
            ("Nike", -1),
            ("Salomon", 0),
        ],
        {"budget": (50, 120), "mid": (120, 250), "premium": (250, 650)},
        jacket,
        [
            "Made for hiking and everyday wear.",
            "Keeps you comfortable on cold commutes.",
            "Breathable enough for active days.",
            "Layers well over a fleece.",
            "Made with recycled fabrics.",
        ],
    ),
    Spec(
        "yoga mats",
        "YOG",
        [
            ("Manduka", 1),
            ("Lululemon", 1),
            ("Gaiam", -1),
            ("Liforme", 1),
            ("JadeYoga", 0),
            ("Alo Yoga", 1),
            ("Hugger Mugger", 0),
            ("Yoloha", 0),
            ("Retrospec", -1),
        ],
        {"budget": (15, 40), "mid": (40, 90), "premium": (90, 160)},
        yoga_mat,
        [
            "Good grip for hot yoga.",
            "Extra cushioning for sensitive knees.",
            "Easy to wipe clean.",
            "Alignment marks help with poses.",
            "Great for pilates and home workouts.",
        ],
    ),
    Spec(
        "hiking boots",
        "BOT",
        [
            ("Merrell", 0),
            ("Salomon", 0),
            ("Keen", 0),
            ("Columbia", -1),
            ("Lowa", 1),
            ("Vasque", 0),
            ("La Sportiva", 1),
            ("Scarpa", 1),
            ("Danner", 1),
            ("Timberland", -1),
        ],
        {"budget": (70, 130), "mid": (130, 210), "premium": (210, 380)},
        hiking_boot,
        [
            "Broken in straight out of the box.",
            "Solid ankle support on rocky trails.",
            "Grippy on wet rock and mud.",
            "Roomy toe box for long descents.",
            "Built for multi-day trips with a heavy pack.",
        ],
    ),
    Spec(
        "tents",
        "TNT",
        [
            ("REI Co-op", 0),
            ("MSR", 1),
            ("Big Agnes", 1),
            ("NEMO", 1),
            ("Coleman", -1),
            ("Marmot", 0),
            ("Kelty", 0),
            ("Eureka", -1),
            ("Naturehike", -1),
            ("Mountain Hardwear", 1),
        ],
        {"budget": (70, 180), "mid": (180, 420), "premium": (420, 900)},
        tent,
        [
            "Quick to pitch, even alone.",
            "Two doors and two vestibules for gear.",
            "Stays dry in heavy rain.",
            "Packs small for long trails.",
            "Room to sit up and play cards.",
        ],
    ),
)


# --- assembly ---------------------------------------------------------------------------


def build_catalog(seed: int = SEED, per_category: int = PER_CATEGORY) -> List[Dict[str, Any]]:
    """Every product, in a fixed order."""
    rng = random.Random(seed)
    known = {category.name for category in CATEGORIES}
    products: List[Dict[str, Any]] = []
    for spec in SPECS:
        if spec.category not in known:
            raise ValueError(f"{spec.category!r} is not in chalicelib.catalog.categories")
        names: set = set()
        for number in range(1, per_category + 1):
            products.append(_product(rng, spec, number, names))
    return products


def _product(rng: random.Random, spec: Spec, number: int, names: set) -> Dict[str, Any]:
    # Every brand at least once (a brand the assistant knows must have products), then at random.
    brand, lean = spec.brands[number - 1] if number <= len(spec.brands) else rng.choice(list(spec.brands))
    tier = rng.choices(TIERS, weights=[3 - lean * 2, 4, 3 + lean * 2])[0]
    for _ in range(50):  # an invented name can repeat; draw again
        model, attributes, what, price_factor = spec.make(rng, brand, tier)
        name = f"{brand} {model}"
        if name not in names:
            break
    else:
        raise RuntimeError(f"could not find a unique name for a {spec.category} by {brand}")
    names.add(name)
    low, high = spec.prices[tier]
    rating = min(4.9, max(2.9, rng.gauss({"budget": 4.0, "mid": 4.3, "premium": 4.5}[tier], 0.3)))
    return {
        "id": f"{spec.code}-{number:03d}",
        "name": name,
        "brand": brand,
        "category": spec.category,
        "price": _shelf_price(rng, rng.uniform(low, high) * price_factor),
        "currency": "USD",
        "rating": round(rating, 1),
        "review_count": int(rng.lognormvariate(5.5 if tier == "mid" else 5.0, 1.1)) + 3,
        "attributes": attributes,
        "description": f"{what} {rng.choice(list(spec.uses))}",
    }


def _shelf_price(rng: random.Random, amount: float) -> float:
    """Prices end the way shops end them: .99, .95 or .00."""
    whole = int(amount) if amount < 100 else int(amount / 5) * 5
    return float(whole) if rng.random() < 0.15 else round(whole - rng.choice([0.01, 0.05]), 2)


def render(products: List[Dict[str, Any]]) -> str:
    """Compact JSON, one product per line, so a diff shows which products changed."""
    lines = [json.dumps(product, separators=(",", ":"), ensure_ascii=False) for product in products]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that the file is up to date")
    parser.add_argument("--output", default=OUTPUT, help=f"default {os.path.relpath(OUTPUT)}")
    args = parser.parse_args(argv)
    text = render(build_catalog())
    if args.check:
        with open(args.output, encoding="utf-8") as handle:
            current = handle.read()
        if current != text:
            print(f"{args.output} is out of date: run {sys.argv[0]}")
            return 1
        print(f"{args.output} is up to date")
        return 0
    with open(args.output, "w", encoding="utf-8") as handle:
        handle.write(text)
    print(f"wrote {len(text.splitlines()) - 2} products to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
