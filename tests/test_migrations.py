"""Migrations build the schema from empty on PostgreSQL and SQLite, match the models, and the
newest one goes down and up again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory
from flask_migrate import check, downgrade, upgrade

from config import ROOT
from mcof_comms import create_app
from mcof_comms.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.servers import recreate_database


def _fresh_pg(name: str) -> str:
    url = sa.engine.make_url(TEST_DATABASE_URL).set(database=name)
    return recreate_database(url.render_as_string(hide_password=False))


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request, tmp_path, migrated_database) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrations.db'}"
    return _fresh_pg("mcof_test_migrations")


def test_upgrade_check_downgrade_upgrade(empty_database):
    app = create_app(make_settings(database_url=empty_database, redis_url=None))
    head = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
    with app.app_context():
        upgrade()
        check()  # the models and the migrations agree
        downgrade(revision="-1")
        upgrade()
        with db.engine.connect() as conn:
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert version == head
        db.engine.dispose()
