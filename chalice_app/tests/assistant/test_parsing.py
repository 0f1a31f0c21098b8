"""Constraints pulled out of what shoppers type: prices, ratings, sorts, brands."""

import pytest

from chalicelib.assistant.catalog.parsing import extract_constraints


@pytest.mark.parametrize(
    "message, low, high",
    [
        ("running shoes under $80", None, 79.99),
        ("below 80 dollars", None, 79.99),
        ("less than 80 bucks", None, 79.99),
        ("up to 80", None, 80.0),
        ("at most $80", None, 80.0),
        ("$80 or less", None, 80.0),
        ("between 50 and 100", 50.0, 100.0),
        ("between $100 and $50", 50.0, 100.0),
        ("from 50 to 100", 50.0, 100.0),
        ("$500-$900 laptop", 500.0, 900.0),
        ("over $1,500", 1500.0, None),
        ("at least 200", 200.0, None),
        ("$200 and up", 200.0, None),
        ("laptops over 1.5k", 1500.0, None),
        ("around $100", 80.0, 120.0),
        ("a $300 watch", 240.0, 360.0),
        ("tent under 2 kg", None, None),
        ("16 inch laptop", None, None),
        ("at least 4 stars", None, None),
        ("compare 1 and 3", None, None),
        ("4 person tent", None, None),
    ],
)
def test_price_bounds(message, low, high):
    found = extract_constraints(message)
    assert (found.min_price, found.max_price) == (low, high)


@pytest.mark.parametrize(
    "message, rating",
    [
        ("rated 4.5 or higher", 4.5),
        ("at least 4 stars", 4.0),
        ("4+ stars", 4.0),
        ("4.5+", 4.5),
        ("rating above 4", 4.0),
        ("highly rated", 4.5),
        ("well reviewed", 4.5),
        ("4 person tent", None),
        ("under $40", None),
    ],
)
def test_minimum_rating(message, rating):
    assert extract_constraints(message).min_rating == rating


@pytest.mark.parametrize(
    "message, sort",
    [
        ("cheapest tents", "price_asc"),
        ("lowest price first", "price_asc"),
        ("most expensive laptops", "price_desc"),
        ("best rated mats", "rating"),
        ("top-rated", "rating"),
        ("the best boots", "rating"),
        ("most popular headphones", "popularity"),
        ("tents", None),
    ],
)
def test_sort(message, sort):
    assert extract_constraints(message).sort == sort


def test_brands_wanted_and_excluded_leave_the_rest_as_text():
    found = extract_constraints("Nike or Adidas running shoes but not Puma under $120")
    assert found.brands == ("Nike", "Adidas")
    assert found.exclude_brands == ("Puma",)
    assert found.max_price == 119.99
    assert "puma" not in found.text and "nike" not in found.text and "running shoes" in found.text


@pytest.mark.parametrize(
    "message, low, high",
    [
        ("a laptop, nothing over 800 please", None, 799.99),
        ("tents under a hundred bucks", None, 99.99),
        ("100 dollars or less", None, 100.0),
        ("no more than $60", None, 59.99),
        ("max 200", None, 200.0),
        ("at most $1.5k", None, 1500.0),
        ("under $1k", None, 999.99),
        ("running shoes from $150", 150.0, None),
        ("nothing under 50", 50.0, None),
        ("somewhere between 100 and 250 dollars", 100.0, 250.0),
        ("for about $50", 40.0, 60.0),
        ("under two hundred", None, 199.99),
        ("under 300, actually under 200", None, 199.99),
        ("under $" + "9" * 400, None, 999999.99),
    ],
)
def test_every_form_of_a_bound(message, low, high):
    found = extract_constraints(message)
    assert (found.min_price, found.max_price) == (low, high)


def test_contradictory_bounds_are_flagged_not_swapped():
    found = extract_constraints("a tent over 500 but under 100")
    assert found.contradictory and (found.min_price, found.max_price) == (500.0, 99.99)


@pytest.mark.parametrize(
    "message, excluded",
    [
        ("running shoes but not Nike or Adidas", ("Nike", "Adidas")),
        ("nothing from Columbia or The North Face", ("Columbia", "The North Face")),
        ("any backpack except Patagonia", ("Patagonia",)),
        ("and no Puma either", ("Puma",)),
    ],
)
def test_a_negation_covers_a_list_of_brands(message, excluded):
    found = extract_constraints(message)
    assert found.exclude_brands == excluded and found.brands == ()


def test_negated_features_and_categories():
    found = extract_constraints("waterproof gear except jackets, without gps, no pods or espresso")
    assert found.exclude_categories == ("jackets",)
    assert found.exclude_features == ("gps", "pod", "espresso")
    assert "waterproof" in found.text


@pytest.mark.parametrize(
    "message, sort",
    [
        ("from most to least expensive", "price_desc"),
        ("sort by price, high to low", "price_desc"),
        ("from least to most expensive", "price_asc"),
        ("what are the top rated smartwatches", "rating"),
        ("best rated first", "rating"),
    ],
)
def test_sort_in_both_directions(message, sort):
    found = extract_constraints(message)
    assert found.sort == sort and "first" not in found.text and "expensive" not in found.text


@pytest.mark.parametrize("message, band", [("cheap headphones", "low"), ("a premium coffee maker", "high")])
def test_relative_price_words(message, band):
    assert extract_constraints(message).band == band
