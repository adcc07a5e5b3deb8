"""mcof-comms: two-way community feedback for crisis response."""

from __future__ import annotations

import logging
import os

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from config import Settings
from mcof_comms.extensions import babel, csrf, db, login, migrate
from mcof_comms.logs import configure_logging

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    configure_logging()
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(settings.flask_config())
    app.extensions["mcof_settings"] = settings
    if settings.proxy_count:
        n = settings.proxy_count
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    from mcof_comms import models  # noqa: F401  (one metadata for Alembic)
    from mcof_comms.i18n import select_ui_locale
    from mcof_comms.inbound.keywords import KeywordBook
    from mcof_comms.inputs import IdConverter, reject_unstorable_request
    from mcof_comms.jobs import init_queues

    db.init_app(app)
    migrate.init_app(app, db, directory=str(_migrations_dir()), render_as_batch=True)
    babel.init_app(app, locale_selector=select_ui_locale)
    csrf.init_app(app)
    login.init_app(app)
    init_queues(app, settings)
    app.extensions["mcof_keywords"] = KeywordBook.from_file(settings.keywords_path)

    if settings.database_url.startswith("sqlite"):
        _tune_sqlite(app)

    # before any blueprint: every <int:...> in a route is an id within its column's range
    app.url_map.converters["int"] = IdConverter
    app.before_request(reject_unstorable_request)

    from mcof_comms.api.views import bp as api_bp
    from mcof_comms.channels.twilio.webhooks import bp as twilio_bp
    from mcof_comms.console import bp as console_bp
    from mcof_comms.health import bp as health_bp

    app.register_blueprint(twilio_bp)
    app.register_blueprint(api_bp)
    from mcof_comms.api.cases import bp as api_cases_bp  # triage: /api/v1/cases

    app.register_blueprint(api_cases_bp)
    from mcof_comms.api.broadcasts import bp as api_broadcasts_bp  # outbound: /api/v1/broadcasts

    app.register_blueprint(api_broadcasts_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(console_bp)

    from mcof_comms.cli import register_cli

    register_cli(app)
    if settings.is_production:
        _warn_about_demo_accounts(app)
    if settings.embedded:
        logger.warning(
            "embedded default: SQLite at %s and an in-process queue; set DATABASE_URL and "
            "REDIS_URL for production",
            settings.database_url.removeprefix("sqlite:///"),
        )
    return app


def _warn_about_demo_accounts(app: Flask) -> None:
    """Demo logins have a published password: production refuses them, and says they exist."""
    from sqlalchemy.exc import SQLAlchemyError

    from mcof_comms.demo import list_demo_accounts

    try:
        with app.app_context():
            found = list_demo_accounts()
            db.session.remove()
    except SQLAlchemyError:  # no database yet (before `db upgrade`): nothing to warn about
        return
    if found:
        logger.warning(
            "%s demo accounts (users %s) exist on this production database; they cannot sign "
            "in; delete them",
            len(found),
            ", ".join(map(str, found)),
        )


def _migrations_dir() -> object:
    from config import ROOT

    return ROOT / "migrations"


def _tune_sqlite(app: Flask) -> None:
    """WAL lets the web thread and the embedded worker thread read while one writes."""
    from pathlib import Path

    from sqlalchemy import event

    path = app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")
    if path and not path.startswith(":memory:") and "mode=memory" not in path:
        Path(path).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not Path(path).exists():  # SQLite gives its -wal and -shm files the same mode
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
