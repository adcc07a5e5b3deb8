"""Fixtures for console tests: the defaults seeded, one user per role, a few cases."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask

from mcof_comms.extensions import db
from mcof_comms.models import Operation, Role, Urgency
from tests.console.helpers import make_case, make_user


@dataclass
class World:
    """Ids only: tests open their own sessions."""

    operation: int
    users: dict[Role, int]
    health: int  # case id: non-sensitive, sector health
    shelter: int  # case id: non-sensitive, sector shelter_nfi, urgent
    sensitive: int  # case id: sensitive (fraud)


@pytest.fixture
def world(app: Flask) -> Iterator[World]:
    with app.app_context():
        operation = Operation(
            slug="default", name="Default operation", is_default=True, default_language="en"
        )
        db.session.add(operation)
        db.session.commit()
        users = {role: make_user(role) for role in Role}
        health = make_case(operation, "Il n'y a pas de médicaments", sector="health")
        shelter = make_case(
            operation, "La tente est cassée", sector="shelter_nfi", urgency=Urgency.URGENT
        )
        sensitive = make_case(
            operation,
            "Someone asked money for the card",
            sector="protection_trafficking",
            sensitive="fraud",
            language="en",
        )
        world = World(
            operation.id,
            {role: user.id for role, user in users.items()},
            health.id,
            shelter.id,
            sensitive.id,
        )
        db.session.remove()
    return world


@pytest.fixture
def triage_ready(app: Flask, world: World) -> None:
    """Load the taxonomy and sectors (seconds): only for tests that relabel or run triage."""
    with app.app_context():
        from mcof_comms.setup import seed_defaults

        seed_defaults()
        db.session.commit()
