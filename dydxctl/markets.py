"""Size and price ↔ quantums and subticks, with Decimal and the market's own parameters.

Formulas (v4-chain protocol/x/clob/types/clob_pair.go and the Indexer's
`stores/perpetual-market`): quantums = size · 10^(−atomicResolution), a multiple of
stepBaseQuantums; subticks = price · 10^(atomicResolution − quantumConversionExponent
+ QUOTE_ATOMIC_RESOLUTION_ABS), a multiple of subticksPerTick. Floats never enter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation, localcontext
from typing import Any

from dydxctl.errors import BadInput, EndpointMismatch

# USDC has 6 decimals: quote quantums are micro-USDC (protocol/lib/constants.go
# QuoteCurrencyAtomicResolution = -6).
QUOTE_ATOMIC_RESOLUTION_ABS = 6
# Quantums and subticks live in SQLite INTEGER columns (signed 64-bit).
STORABLE_MAX = 2**63 - 1
# Beyond 10^±40 no market's size or price makes sense, and Decimal arithmetic would overflow.
MAX_DECIMAL_EXPONENT = 40
# A user's decimal has at most this many significant digits: more than any market's grid
# can use, and few enough that grid arithmetic below is exact.
MAX_SIGNIFICANT_DIGITS = 60
# Grid arithmetic runs at this precision so a value is never rounded onto the grid: with at
# most MAX_SIGNIFICANT_DIGITS digits and exponents within ±MAX_DECIMAL_EXPONENT, products
# with a power-of-ten scale are exact (Decimal's default 28 digits are not enough).
EXACT_PRECISION = 4 * MAX_DECIMAL_EXPONENT + 2 * MAX_SIGNIFICANT_DIGITS


@dataclass(frozen=True)
class Market:
    ticker: str
    clob_pair_id: int
    atomic_resolution: int
    quantum_conversion_exponent: int
    step_base_quantums: int
    subticks_per_tick: int
    oracle_price: Decimal | None = None
    status: str = "ACTIVE"

    @classmethod
    def from_indexer(cls, ticker: str, data: dict[str, Any]) -> Market:
        """From one entry of /v4/perpetualMarkets (numbers arrive as strings or ints)."""
        try:
            return cls(
                ticker=ticker,
                clob_pair_id=int(data["clobPairId"]),
                atomic_resolution=int(data["atomicResolution"]),
                quantum_conversion_exponent=int(data["quantumConversionExponent"]),
                step_base_quantums=int(data["stepBaseQuantums"]),
                subticks_per_tick=int(data["subticksPerTick"]),
                oracle_price=Decimal(str(data["oraclePrice"])) if data.get("oraclePrice") else None,
                status=str(data.get("status", "ACTIVE")),
            )
        except (KeyError, ValueError, TypeError, InvalidOperation) as exc:
            raise BadInput(
                f"The Indexer's parameters for {ticker} are malformed ({exc!r}).",
                "Check --indexer points at a dYdX v4 Indexer.",
            ) from exc

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Market:
        return cls(
            ticker=row["ticker"],
            clob_pair_id=row["clob_pair_id"],
            atomic_resolution=row["atomic_resolution"],
            quantum_conversion_exponent=row["quantum_conversion_exponent"],
            step_base_quantums=row["step_base_quantums"],
            subticks_per_tick=row["subticks_per_tick"],
            oracle_price=Decimal(row["oracle_price"]) if row.get("oracle_price") else None,
            status=row.get("status") or "ACTIVE",
        )

    def to_row(self) -> dict[str, Any]:
        return {
            "ticker": self.ticker,
            "clob_pair_id": self.clob_pair_id,
            "atomic_resolution": self.atomic_resolution,
            "quantum_conversion_exponent": self.quantum_conversion_exponent,
            "step_base_quantums": self.step_base_quantums,
            "subticks_per_tick": self.subticks_per_tick,
            "oracle_price": str(self.oracle_price) if self.oracle_price is not None else None,
            "status": self.status,
        }

    # --- scales ---------------------------------------------------------------------------
    @property
    def _size_scale(self) -> Decimal:
        return Decimal(10) ** -self.atomic_resolution

    @property
    def _price_scale(self) -> Decimal:
        exponent = (
            self.atomic_resolution - self.quantum_conversion_exponent + QUOTE_ATOMIC_RESOLUTION_ABS
        )
        return Decimal(10) ** exponent

    @property
    def step_size(self) -> Decimal:
        return _plain(Decimal(self.step_base_quantums) / self._size_scale)

    @property
    def tick_size(self) -> Decimal:
        return _plain(Decimal(self.subticks_per_tick) / self._price_scale)

    def size_from_quantums(self, quantums: int) -> Decimal:
        return _plain(Decimal(quantums) / self._size_scale)

    def price_from_subticks(self, subticks: int) -> Decimal:
        return _plain(Decimal(subticks) / self._price_scale)

    # --- conversions ----------------------------------------------------------------------
    def quantums(self, size: Decimal) -> int:
        """Size in base units → quantums; refuses values off the step grid, naming neighbours."""
        return _to_grid(
            size, "size", self._size_scale, self.step_base_quantums, self.size_from_quantums,
            f"{self.ticker}'s step size {self.step_size}",
        )  # fmt: skip

    def subticks(self, price: Decimal) -> int:
        """Price in quote units → subticks; refuses values off the tick grid."""
        return _to_grid(
            price, "price", self._price_scale, self.subticks_per_tick, self.price_from_subticks,
            f"{self.ticker}'s tick size {self.tick_size}",
        )  # fmt: skip

    def round_price(self, price: Decimal, *, up: bool) -> Decimal:
        """The nearest tick at or beyond `price` in the given direction (protective prices)."""
        ticks = (price * self._price_scale / self.subticks_per_tick).to_integral_value(
            ROUND_CEILING if up else ROUND_FLOOR
        )
        return self.price_from_subticks(max(int(ticks), 1) * self.subticks_per_tick)


def _to_grid(
    value: Decimal, name: str, scale: Decimal, unit: int, back: Callable[[int], Decimal],
    grid_name: str,
) -> int:  # fmt: skip
    """value · scale as an integer multiple of `unit`, or BadInput naming the neighbours."""
    _require_positive(value, name)
    with localcontext() as ctx:
        ctx.prec = EXACT_PRECISION
        exact = value * scale
        units = exact / unit
        return _on_grid(value, name, exact, units, unit, back, grid_name)


def _on_grid(
    value: Decimal, name: str, exact: Decimal, units: Decimal, unit: int,
    back: Callable[[int], Decimal], grid_name: str,
) -> int:  # fmt: skip
    if units != units.to_integral_value():
        low = int(units.to_integral_value(ROUND_FLOOR)) * unit
        high = int(units.to_integral_value(ROUND_CEILING)) * unit
        options = [str(back(v)) for v in (low, high) if v > 0]
        raise BadInput(
            f"{name.capitalize()} {value} is not a multiple of {grid_name}.",
            f"Nearest valid {name}s: {' or '.join(options)}.",
        )
    result = int(exact)
    if result > STORABLE_MAX:
        raise BadInput(
            f"The {name} {value} is too large: at most {back(STORABLE_MAX // unit * unit)}.", ""
        )
    return result


def check_against_clob_pair(market: Market, clob_pair: Any) -> None:
    """The Indexer's parameters must be the chain's before anything is signed with them.

    The node's ClobPair (protocol/x/clob/types/clob_pair.pb.go: Id, StepBaseQuantums,
    SubticksPerTick, QuantumConversionExponent) is what CheckTx validates an order against;
    an Indexer that disagrees (a different network, a stale or tampered proxy) would make
    dydxctl sign a size or price the user never asked for. atomicResolution lives on the
    Perpetual, not the ClobPair, so it is not compared here."""
    mine = {
        "clob pair id": market.clob_pair_id,
        "step base quantums": market.step_base_quantums,
        "subticks per tick": market.subticks_per_tick,
        "quantum conversion exponent": market.quantum_conversion_exponent,
    }
    chains = {
        "clob pair id": int(clob_pair.id),
        "step base quantums": int(clob_pair.step_base_quantums),
        "subticks per tick": int(clob_pair.subticks_per_tick),
        "quantum conversion exponent": int(clob_pair.quantum_conversion_exponent),
    }
    differing = [f"{k}: Indexer {mine[k]}, node {chains[k]}" for k in mine if mine[k] != chains[k]]
    if differing:
        raise EndpointMismatch(
            f"The Indexer's parameters for {market.ticker} differ from the node's ClobPair "
            f"{market.clob_pair_id} ({'; '.join(differing)}); nothing was signed.",
            "Point --indexer and --grpc at the same network (check --network), then retry.",
        )


def _plain(value: Decimal) -> Decimal:
    """Drop trailing zeros without scientific notation (0.00010 → 0.0001, 5E+4 → 50000)."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


def _require_positive(value: Decimal, name: str) -> None:
    if not value.is_finite() or value <= 0:
        raise BadInput(f"The {name} must be a positive number, not {value}.", "")


def parse_decimal(text: str, name: str) -> Decimal:
    """A user's decimal ("0.001", "50000"); refuses NaN, infinities and non-numbers."""
    try:
        value = Decimal(text.strip().replace("_", ""))
    except InvalidOperation:
        raise BadInput(
            f"The {name} '{text}' is not a number.", f"Write the {name} like 0.01."
        ) from None
    if not value.is_finite():
        raise BadInput(f"The {name} '{text}' is not a finite number.", "")
    if value and abs(value.adjusted()) > MAX_DECIMAL_EXPONENT:
        raise BadInput(
            f"The {name} '{text}' is out of range (between 1e-{MAX_DECIMAL_EXPONENT} and "
            f"1e{MAX_DECIMAL_EXPONENT}).",
            "",
        )
    if len(value.as_tuple().digits) > MAX_SIGNIFICANT_DIGITS:
        raise BadInput(
            f"The {name} '{text}' has {len(value.as_tuple().digits)} significant digits; "
            f"at most {MAX_SIGNIFICANT_DIGITS}.",
            f"Write the {name} with fewer digits; it must sit on the market's grid anyway.",
        )
    if value <= 0:
        raise BadInput(f"The {name} must be positive, not {text}.", "")
    return value
