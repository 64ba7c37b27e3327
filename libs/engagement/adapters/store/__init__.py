"""DynamoDB repositories: the only place (with messaging) that knows how items are stored."""

from engagement.adapters.store.decisions import DecisionRepository
from engagement.adapters.store.emails import EmailRepository
from engagement.adapters.store.pagination import InvalidCursor, Page
from engagement.adapters.store.suppressions import SuppressionRepository
from engagement.adapters.store.users import UserRepository

__all__ = ["DecisionRepository", "EmailRepository", "InvalidCursor", "Page", "SuppressionRepository", "UserRepository"]
