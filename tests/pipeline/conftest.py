"""Shared fixtures for the pure triage core: the real taxonomy file, loaded once."""

from __future__ import annotations

import pytest

from mcof_comms.pipeline import Taxonomy, load_taxonomy


@pytest.fixture(scope="session")
def taxonomy() -> Taxonomy:
    return load_taxonomy()
