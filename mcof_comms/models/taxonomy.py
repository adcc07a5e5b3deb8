"""Triage configuration and learning, as rows: the loaded taxonomy, its categories, the
coordinators' corrections and the versioned sector models trained on them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from mcof_comms.db import Base, enum_column, partial_index, utcnow
from mcof_comms.models.message import JSONType
from mcof_comms.models.operation import CategoryKind


class TaxonomyConfig(Base):
    """One load of ``config/taxonomy.yaml``. Workers triage with the newest row, so editing the
    file and running ``flask --app app operations load-config`` changes triage without a deploy."""

    __tablename__ = "taxonomy_config"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    checksum: Mapped[str] = mapped_column(String(64))  # sha256 of the document
    document: Mapped[dict[str, Any]] = deferred(mapped_column(JSONType, nullable=False))
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Category(Base):
    """A sector or referral category as configured (names and referral partners for people)."""

    __tablename__ = "category"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[CategoryKind] = mapped_column(enum_column(CategoryKind, "category_kind"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    mcof: Mapped[int | None]  # MCOF sector number
    partner: Mapped[str | None] = mapped_column(String(255))  # referral partner or cluster
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TrainingExample(Base):
    """A labelled text: a coordinator's correction of triage. ``holdout`` rows are never trained
    on; they score candidate models, so promotion compares models on unseen corrections."""

    __tablename__ = "training_example"
    __table_args__ = (
        # one current example per message: a second correction replaces the first
        partial_index(
            "uq_training_example_message", "message_id", where="message_id IS NOT NULL", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("feedback_case.id", ondelete="SET NULL"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(Text)  # personal data: never log it
    language: Mapped[str | None] = mapped_column(String(16))
    sectors: Mapped[list[str]] = mapped_column(JSONType, default=list)
    feedback_type: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str | None] = mapped_column(String(32))
    # the safeguarding label: a sensitivity category, or "none" (a protection focal point cleared
    # it); None when nobody labelled it
    sensitive: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(32), default="correction")
    holdout: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ModelStatus(enum.StrEnum):
    """candidate -> promoted (the one in use) -> retired; or candidate -> rejected."""

    CANDIDATE = "candidate"
    PROMOTED = "promoted"
    REJECTED = "rejected"
    RETIRED = "retired"


class ModelKind(enum.StrEnum):
    """What a trained model decides: sectors, or the safety signals (safeguarding, urgency,
    feedback type)."""

    SECTORS = "sectors"
    SIGNALS = "signals"


class SectorModelVersion(Base):
    """One trained model, its held-back score and the serialized model itself."""

    __tablename__ = "sector_model_version"
    __table_args__ = (
        # at most one model of each kind in use
        partial_index(
            "uq_model_promoted_per_kind", "kind", where="status = 'promoted'", unique=True
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ModelKind] = mapped_column(
        enum_column(ModelKind, "model_kind"),
        default=ModelKind.SECTORS,
        server_default=ModelKind.SECTORS.value,
    )
    status: Mapped[ModelStatus] = mapped_column(
        enum_column(ModelStatus, "model_status"), default=ModelStatus.CANDIDATE
    )
    algorithm: Mapped[str] = mapped_column(String(64))
    taxonomy_version: Mapped[str | None] = mapped_column(String(64))
    trained_on: Mapped[int] = mapped_column(default=0)  # training examples
    evaluated_on: Mapped[int] = mapped_column(default=0)  # held-back examples
    score: Mapped[float | None]  # held-back micro/macro F1 as chosen by the evaluation
    baseline_score: Mapped[float | None]  # the model in use at the time, on the same examples
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    artifact: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    promoted_at: Mapped[datetime | None]

    @property
    def version(self) -> str:
        return f"sector-model-{self.id}"
