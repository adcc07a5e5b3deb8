"""All models, imported here so that Alembic and the app see one metadata."""

from mcof_comms.models.audit import AuditEntry
from mcof_comms.models.broadcast import Broadcast, BroadcastStatus
from mcof_comms.models.case import OPEN_STATUSES, Case, CaseEvent, CaseStatus, ProtectionStatus
from mcof_comms.models.contact import Channel, Contact, ContactChannel, LanguageSource
from mcof_comms.models.membership import Membership
from mcof_comms.models.message import (
    STATUS_RANK,
    Direction,
    Message,
    MessageEvent,
    MessageKind,
    MessageStatus,
)
from mcof_comms.models.operation import (
    CategoryKind,
    Operation,
    OperationAddress,
    OperationSector,
    Phase,
    Team,
)
from mcof_comms.models.taxonomy import (
    Category,
    ModelKind,
    ModelStatus,
    SectorModelVersion,
    TaxonomyConfig,
    TrainingExample,
)
from mcof_comms.models.triage import URGENCY_RANK, FeedbackType, Urgency
from mcof_comms.models.user import ApiToken, Role, User

__all__ = [
    "OPEN_STATUSES",
    "STATUS_RANK",
    "URGENCY_RANK",
    "ApiToken",
    "AuditEntry",
    "Broadcast",
    "BroadcastStatus",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "Category",
    "CategoryKind",
    "Channel",
    "Contact",
    "ContactChannel",
    "Direction",
    "FeedbackType",
    "LanguageSource",
    "Membership",
    "Message",
    "MessageEvent",
    "MessageKind",
    "MessageStatus",
    "ModelKind",
    "ModelStatus",
    "Operation",
    "OperationAddress",
    "OperationSector",
    "Phase",
    "ProtectionStatus",
    "Role",
    "SectorModelVersion",
    "TaxonomyConfig",
    "Team",
    "TrainingExample",
    "Urgency",
    "User",
]
