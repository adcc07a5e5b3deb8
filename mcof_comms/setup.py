"""Make a fresh install usable: triage config in the database and a default operation."""

from __future__ import annotations

from mcof_comms.operations.services import (
    ensure_default_operation,
    load_operations_config,
    load_taxonomy_config,
)


def seed_defaults() -> None:
    """Load config/taxonomy.yaml (and config/operations.yaml if present) and make sure the
    default operation exists. Idempotent: run it on every start. Flushes, never commits."""
    load_taxonomy_config()
    ensure_default_operation()
    load_operations_config()
