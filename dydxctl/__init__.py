"""dydxctl: place, cancel and prune dYdX v4 orders with durable local metadata."""

__version__ = "0.1.0"
