"""Triage vocabularies shared by messages and cases."""

from __future__ import annotations

import enum


class FeedbackType(enum.StrEnum):
    """IFRC community feedback types."""

    QUESTION = "question"
    REQUEST = "request"
    COMPLAINT = "complaint"
    RUMOUR = "rumour"
    SUGGESTION = "suggestion"
    APPRECIATION = "appreciation"
    OTHER = "other"


class Urgency(enum.StrEnum):
    LIFE_THREATENING = "life_threatening"
    URGENT = "urgent"
    NORMAL = "normal"


#: Sort key: life-threatening first.
URGENCY_RANK = {Urgency.LIFE_THREATENING: 0, Urgency.URGENT: 1, Urgency.NORMAL: 2}
