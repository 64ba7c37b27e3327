"""/api/stats and /api/pipeline: the overview's figures, conversion, queue health and redrives."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import BaseModel, Field

from engagement.clock import format_instant, time_left_in
from engagement.domain.conversion_rates import conversion_rates
from engagement.http.context import ApiServices
from engagement.http.schemas import Conversion, Overview, PipelineHealth, Redriven, answers

Refresh = Annotated[bool, Query(description="Recompute the cached figures now")]


class Redrive(BaseModel):
    max: int = Field(default=100, ge=1, le=1000, description="Messages to move at most")


def router(api: ApiServices) -> Router:
    routes = Router()

    @routes.get("/api/stats", responses=answers(Overview))
    def overview(refresh: Refresh = False) -> dict[str, Any]:
        """Clients per band and emails per status (cached, with their age), decisions per reason and conversion."""
        return api.stats.overview(refresh=refresh, time_left=time_left_in(routes.lambda_context))

    @routes.get("/api/stats/conversion", responses=answers(Conversion))
    def conversion() -> dict[str, Any]:
        """Orders within 30 days: after a sent email, and after a held_out decision (the holdout)."""
        return conversion_rates(api.decisions.conversion_counts())

    @routes.get("/api/pipeline", responses=answers(PipelineHealth))
    def pipeline_health() -> dict[str, Any]:
        now = api.clock.now()
        return {"checkedAt": format_instant(now), "queues": api.pipeline.health(now)}

    @routes.post("/api/pipeline/dead-letters/<name>/redrive", responses=answers(Redriven))
    def redrive(name: str, request: Annotated[Redrive | None, Body()] = None) -> dict[str, int]:
        """Move dead letters back to the queue they came from, once their cause is fixed."""
        limit = (request or Redrive()).max
        return api.pipeline.redrive(name, limit=limit, time_left=time_left_in(routes.lambda_context))

    return routes
