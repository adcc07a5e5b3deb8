"""The reference for bench/ingest.py: the least a webhook can do on our stack.

Flask + Flask-SQLAlchemy + PostgreSQL + RQ, like mcof-comms: insert one row, enqueue one job,
answer empty TwiML. No signature check, no contact, no parsing beyond two fields.
"""

from __future__ import annotations

import os

import redis
from flask import Flask, Response, request
from flask_sqlalchemy import SQLAlchemy
from rq import Queue
from sqlalchemy import String, Text, insert
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class RefMessage(Base):
    __tablename__ = "bench_ref_message"
    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    body: Mapped[str] = mapped_column(Text)


def noop(message_id: int) -> None:
    """The job the reference enqueues (never run by the benchmark)."""


def create_app() -> Flask:
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = os.environ["DATABASE_URL"]
    db.init_app(app)
    queue = Queue("bench-ref", connection=redis.Redis.from_url(os.environ["REDIS_URL"]))

    @app.post("/ref")
    def ref() -> Response:
        # the leanest form: one INSERT .. RETURNING, one commit, one enqueue
        row_id = db.session.execute(
            insert(RefMessage)
            .values(sid=request.form["MessageSid"], body=request.form.get("Body", ""))
            .returning(RefMessage.id)
        ).scalar_one()
        db.session.commit()
        queue.enqueue("bench.reference_app.noop", row_id, job_id=f"ref-{row_id}")
        return Response('<?xml version="1.0" encoding="UTF-8"?><Response />', mimetype="text/xml")

    with app.app_context():
        db.create_all()
    return app


app = create_app()
