"""Liveness and readiness for load balancers and uptime checks."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from mcof_comms.extensions import db
from mcof_comms.jobs import get_backend

logger = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database and the queue answer, 503 when either does not."""
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        logger.warning("health check: database unavailable")
        checks["database"] = "unavailable"
    finally:
        db.session.rollback()
    backend = get_backend()
    try:
        backend.connection.ping()
        checks["queue"] = "ok"
    except Exception:
        logger.warning("health check: queue unavailable")
        checks["queue"] = "unavailable"
    checks["queue_backend"] = "embedded" if backend.embedded else "redis"
    healthy = checks["database"] == "ok" and checks["queue"] == "ok"
    checks["status"] = "ok" if healthy else "degraded"
    return jsonify(checks), 200 if healthy else 503
