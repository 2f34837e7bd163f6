"""The emulated markets and the Indexer's unit conversions (the emulator's own copy).

Indexer postgres/src/lib/protocol-translations.ts: size = quantums · 10^atomicResolution;
price = subticks · 10^(quantumConversionExponent − atomicResolution − 6) (USDC has 6
decimals, protocol/lib/constants.go QuoteCurrencyAtomicResolution = -6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

QUOTE_DECIMALS = 6


@dataclass(frozen=True)
class Market:
    ticker: str
    clob_pair_id: int
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int
    oracle_price: Decimal
    status: str = "ACTIVE"

    def size(self, quantums: int) -> Decimal:
        return _plain(Decimal(quantums).scaleb(self.atomic_resolution))

    def quantums(self, size: Decimal) -> int:
        """Base-unit size → quantums; a size that is not a whole number of quantums is refused."""
        exact = size.scaleb(-self.atomic_resolution)
        if exact != exact.to_integral_value() or exact < 0:
            raise ValueError(f"size {size} is not a whole number of quantums")
        return int(exact)

    def _price_exponent(self) -> int:
        return self.quantum_conversion_exponent - self.atomic_resolution - QUOTE_DECIMALS

    def price(self, subticks: int) -> Decimal:
        return _plain(Decimal(subticks).scaleb(self._price_exponent()))

    def subticks(self, price: Decimal) -> int:
        exact = price.scaleb(-self._price_exponent())
        if exact != exact.to_integral_value():
            raise ValueError(f"price {price} is not a whole number of subticks")
        return int(exact)

    @property
    def step_size(self) -> Decimal:
        return self.size(self.step_base_quantums)

    @property
    def tick_size(self) -> Decimal:
        return self.price(self.subticks_per_tick)


def _plain(value: Decimal) -> Decimal:
    """1.000 → 1, 5E+4 → 50000: the Indexer's strings carry no exponent."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


def iso_ms(unix_seconds: float) -> str:
    """The Indexer's timestamps: ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(unix_seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# Real mainnet parameters (Indexer /v4/perpetualMarkets), so grids match production.
SEED_MARKETS = (
    Market("BTC-USD", 0, -10, -9, 1_000_000, 100_000, Decimal("65000")),
    Market("ETH-USD", 1, -9, -9, 1_000_000, 100_000, Decimal("3500")),
)
