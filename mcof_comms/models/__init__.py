"""All models, imported here so that Alembic and the app see one metadata."""

from mcof_comms.models.contact import Channel, Contact, ContactChannel, LanguageSource
from mcof_comms.models.message import (
    STATUS_RANK,
    Direction,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
)
from mcof_comms.models.user import ApiToken, Role, User

__all__ = [
    "STATUS_RANK",
    "ApiToken",
    "Channel",
    "Contact",
    "ContactChannel",
    "Direction",
    "LanguageSource",
    "Message",
    "MessageEvent",
    "MessageKind",
    "MessageStatus",
    "Role",
    "User",
]
