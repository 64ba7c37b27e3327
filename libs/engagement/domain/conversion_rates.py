"""What win-back emails are worth: conversion of emailed clients against the held-out group, and the lift."""

from __future__ import annotations

from typing import Any


def conversion_rates(counts: dict[str, int]) -> dict[str, Any]:
    """Conversion for emailed versus held-out clients, and the lift between them."""

    def rate(converted: int, total: int) -> float | None:
        return round(converted / total, 4) if total else None

    emailed = rate(counts["emailedConverted"], counts["emailed"])
    held_out = rate(counts["heldOutConverted"], counts["heldOut"])
    return {
        "emailed": {"count": counts["emailed"], "converted": counts["emailedConverted"], "rate": emailed},
        "heldOut": {"count": counts["heldOut"], "converted": counts["heldOutConverted"], "rate": held_out},
        "lift": round(emailed - held_out, 4) if emailed is not None and held_out is not None else None,
    }
