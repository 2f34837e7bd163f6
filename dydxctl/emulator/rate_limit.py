"""Block rate limits (clob 5001), off unless the emulator is started with rate_limits.

x/clob/rate_limit/order_rate_limiter.go: short-term places and cancels share one limiter,
a MsgBatchCancel counts BATCH_CANCEL_RATE_LIMIT_WEIGHT; stateful placements have their own;
stateful cancels are not limited. multi_block_rate_limiter.go RateLimitIncrBy: the count
is added first (a refused message still counts), then every (num_blocks, limit) pair is
checked over the last num_blocks blocks. keeper/rate_limit.go: CheckTx only, per owner.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from dydxctl.emulator import rules

Limits = tuple[tuple[int, int], ...]  # (num_blocks, limit)


@dataclass
class BlockRateLimiter:
    short_term: Limits = ()
    stateful: Limits = ()
    _counts: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)

    @classmethod
    def from_option(cls, option: bool | dict[str, Any]) -> BlockRateLimiter:
        """False: no limits (the default); True: the genesis.sh limits; or a dict with
        "short_term" / "stateful" lists of (num_blocks, limit)."""
        if option is True:
            return cls(rules.GENESIS_SHORT_TERM_RATE_LIMITS, rules.GENESIS_STATEFUL_RATE_LIMITS)
        if isinstance(option, dict):
            return cls(
                tuple(tuple(x) for x in option.get("short_term", ())),  # type: ignore[misc]
                tuple(tuple(x) for x in option.get("stateful", ())),  # type: ignore[misc]
            )
        return cls()

    @property
    def enabled(self) -> bool:
        return bool(self.short_term or self.stateful)

    def count(self, kind: str, owner: str, height: int, weight: int = 1) -> str | None:
        """Add `weight` for `owner` at `height`; the refusal text if a limit is exceeded."""
        limits = self.short_term if kind == "short_term" else self.stateful
        if not limits:
            return None
        per_block = self._counts.setdefault((kind, owner), defaultdict(int))
        per_block[height] += weight
        longest = max(n for n, _ in limits)
        for old in [h for h in per_block if h <= height - longest]:
            del per_block[old]
        for num_blocks, limit in limits:
            total = sum(c for h, c in per_block.items() if h > height - num_blocks)
            if total > limit:
                return (
                    f"Rate of {total} exceeds configured block rate limit of "
                    f"{{NumBlocks:{num_blocks} Limit:{limit}}} for {kind} and {owner}"
                )
        return None
