"""Handlers' services built for a test: through the same bootstrap builders as in Lambda, with test parts."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from engagement import bootstrap


def rebuild(handler: ModuleType, **parts: Any) -> Any:
    """Rebuild a loaded handler's services with parts (clock=, clients=bootstrap.Clients(...), writer=, config=),
    as its cold start would have with them; returns the new services."""
    name = handler.__name__.split(".")[-2]
    config = parts.pop("config", handler.config)
    if name == "api":
        parts.setdefault("assets", handler.services.assets)
    handler.services = getattr(bootstrap, name)(config, **parts)
    if "config" in vars(handler):
        handler.config = config
    return handler.services
