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
