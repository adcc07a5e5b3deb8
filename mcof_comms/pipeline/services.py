"""Run the triage pipeline on one inbound message (filled in by the triage work)."""

from __future__ import annotations

from mcof_comms.models import Message, MessageKind


def run_pipeline(message: Message) -> None:
    """Triage a feedback message; other kinds were already handled when they arrived."""
    if message.kind is not MessageKind.FEEDBACK:
        return
