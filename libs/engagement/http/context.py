"""What the API's routes work with: the services bootstrap.api builds, frozen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from engagement.adapters.pipeline_monitor import PipelineMonitor
from engagement.adapters.store import DecisionRepository, EmailRepository, UserRepository
from engagement.adapters.store.churn_models import ChurnModelRepository
from engagement.clock import Clock
from engagement.http.auth import BearerTokenAuth
from engagement.services.catalog import CatalogService
from engagement.services.clients import ClientService
from engagement.services.conversion import Conversions
from engagement.services.delivery import Delivery
from engagement.services.orders import OrderService
from engagement.services.review import Editor
from engagement.services.stats import StatsService
from engagement.services.store_webhooks import WebhookReceiver
from engagement.services.winback_requests import WinbackRequests


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: http_api keeps one HttpApi per ApiServices
class ApiServices:
    auth_mode: Literal["bearer", "jwt"]
    clock: Clock
    users: UserRepository
    emails: EmailRepository
    decisions: DecisionRepository
    delivery: Delivery
    clients: ClientService
    orders: OrderService
    catalog: CatalogService
    conversions: Conversions
    webhooks: WebhookReceiver
    editor: Editor
    winback_requests: WinbackRequests
    stats: StatsService
    churn_models: ChurnModelRepository
    pipeline: PipelineMonitor
    auth: BearerTokenAuth
    assets: Mapping[str, str]  # the dashboard's files by name, read once at cold start
    picture_hosts: tuple[str, ...] = ()  # where products' pictures may be: the dashboard may load them
