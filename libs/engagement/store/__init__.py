"""DynamoDB repositories: the only place (with messaging) that knows how items are stored."""

from engagement.store.decisions import DecisionRepository
from engagement.store.emails import EmailRepository
from engagement.store.pagination import InvalidCursor, Page
from engagement.store.suppressions import SuppressionRepository
from engagement.store.users import UserRepository

__all__ = ["DecisionRepository", "EmailRepository", "InvalidCursor", "Page", "SuppressionRepository", "UserRepository"]
