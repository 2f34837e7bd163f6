"""Size/price ↔ quantums/subticks with Decimal on real market parameters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dydxctl.errors import BadInput
from dydxctl.markets import STORABLE_MAX, Market, parse_decimal

# Real mainnet parameters from the Indexer's /v4/perpetualMarkets.
BTC = Market("BTC-USD", 0, -10, -9, 1_000_000, 100_000)
ETH = Market("ETH-USD", 1, -9, -9, 1_000_000, 100_000)
# An extreme market (illustrative parameters): tiny prices, huge sizes, near int64 limits.
PEPE = Market("PEPE-USD", 30, 1, -16, 1_000_000_000, 1_000_000)


@pytest.mark.parametrize(
    ("market", "size", "quantums", "price", "subticks"),
    [
        (BTC, "0.001", 10_000_000, "50000", 5_000_000_000),
        (BTC, "0.0001", 1_000_000, "1", 100_000),  # smallest step, smallest tick
        (ETH, "0.01", 10_000_000, "3500.5", 3_500_500_000),
        (ETH, "12345.678", 12_345_678_000_000, "0.1", 100_000),
        (PEPE, "100000000000", 10_000_000_000, "0.000012", 1_200_000_000_000_000_000),
    ],
)
def test_conversions(market: Market, size: str, quantums: int, price: str, subticks: int) -> None:
    assert market.quantums(Decimal(size)) == quantums
    assert market.subticks(Decimal(price)) == subticks
    assert market.size_from_quantums(quantums) == Decimal(size)
    assert market.price_from_subticks(subticks) == Decimal(price)


def test_grid_sizes() -> None:
    assert (BTC.step_size, BTC.tick_size) == (Decimal("0.0001"), Decimal("1"))
    assert (ETH.step_size, ETH.tick_size) == (Decimal("0.001"), Decimal("0.1"))


def test_off_step_names_nearest_sizes() -> None:
    with pytest.raises(BadInput, match=r"step size 0\.0001") as info:
        BTC.quantums(Decimal("0.00015"))
    assert "0.0001 or 0.0002" in info.value.hint


def test_below_one_step_names_only_the_step() -> None:
    with pytest.raises(BadInput) as info:
        BTC.quantums(Decimal("0.00001"))
    assert info.value.hint == "Nearest valid sizes: 0.0001."


def test_off_tick_names_nearest_prices() -> None:
    with pytest.raises(BadInput, match=r"tick size 0\.1") as info:
        ETH.subticks(Decimal("3500.55"))
    assert "3500.5 or 3500.6" in info.value.hint


def test_huge_size_is_refused() -> None:
    with pytest.raises(BadInput, match="too large"):
        BTC.quantums(Decimal(STORABLE_MAX))


@pytest.mark.parametrize("text", ["abc", "", "NaN", "inf", "-1", "0", "1e999999999999"])
def test_parse_decimal_refuses(text: str) -> None:
    with pytest.raises(BadInput):
        parse_decimal(text, "size")


def test_parse_decimal_keeps_exact_digits() -> None:
    assert parse_decimal("0.1", "size") == Decimal("0.1")
    assert parse_decimal("1_000.25", "price") == Decimal("1000.25")


@given(steps=st.integers(min_value=1, max_value=10**12), ticks=st.integers(1, 10**6))
def test_round_trip_on_the_grid(steps: int, ticks: int) -> None:
    for market in (BTC, ETH, PEPE):
        q = steps * market.step_base_quantums
        s = ticks * market.subticks_per_tick
        if q <= STORABLE_MAX:
            assert market.quantums(market.size_from_quantums(q)) == q
        if s <= STORABLE_MAX:
            assert market.subticks(market.price_from_subticks(s)) == s


def test_protective_rounding() -> None:
    assert BTC.round_price(Decimal("50000.2"), up=True) == Decimal("50001")
    assert BTC.round_price(Decimal("50000.8"), up=False) == Decimal("50000")


def test_from_indexer_strings_and_numbers() -> None:
    m = Market.from_indexer(
        "BTC-USD",
        {"clobPairId": "0", "atomicResolution": -10, "quantumConversionExponent": -9,
         "stepBaseQuantums": 1000000, "subticksPerTick": 100000, "oraclePrice": "65000.5"},
    )  # fmt: skip
    assert m == Market("BTC-USD", 0, -10, -9, 1_000_000, 100_000, Decimal("65000.5"), "ACTIVE")
    with pytest.raises(BadInput, match="malformed"):
        Market.from_indexer("X", {"clobPairId": "zero"})
