"""``flask --app app <command>``: users, tokens, workers, recovery, translations, quick start."""

from __future__ import annotations

import logging
import subprocess
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from config import ROOT, Settings
from mcof_comms.extensions import db
from mcof_comms.models import Role

logger = logging.getLogger(__name__)

users = AppGroup("users", help="Manage console and API users.")
tokens = AppGroup("tokens", help="Manage API bearer tokens.")
translate = AppGroup("translate", help="Extract, update, compile and check gettext catalogs.")


@users.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True, prompt=True, hide_input=True)
@click.option(
    "--role",
    required=True,
    type=click.Choice(
        [
            "admin",
            "coordinator",
            "sector_focal_point",
            "protection_focal_point",
            "responder",
            "viewer",
        ]
    ),
)
@click.option("--sectors", default="", help="Comma-separated sector slugs (sector focal points).")
@click.option("--name", default=None)
@click.option(
    "--operations",
    default="all",
    show_default=True,
    help="Comma-separated operation slugs the user works in, or 'all' (an explicit grant).",
)
def create_user_command(
    email: str, password: str, role: str, sectors: str, name: str | None, operations: str
) -> None:
    """Create a user, working in the operations named (default: all of them)."""
    from sqlalchemy import select

    from mcof_comms.auth.users import UserError, create_user
    from mcof_comms.console.services import set_operations
    from mcof_comms.models import Operation, Role

    sector_list = [s.strip() for s in sectors.split(",") if s.strip()]
    slugs = [s.strip() for s in operations.split(",") if s.strip()]
    everywhere = slugs == ["all"]
    found = (
        {}
        if everywhere
        else dict(
            db.session.execute(
                select(Operation.slug, Operation.id).where(Operation.slug.in_(slugs))
            )
        )
    )
    if not everywhere and (unknown := sorted(set(slugs) - set(found))):
        raise click.ClickException(f"unknown operations: {', '.join(unknown)}")
    try:
        user = create_user(email, password, Role(role), name=name, sectors=sector_list)
    except UserError as exc:
        raise click.ClickException(str(exc)) from exc
    set_operations(user, list(found.values()), all_operations=everywhere)
    db.session.commit()
    click.echo(f"created user {user.id} ({user.role.value})")


@tokens.command("create")
@click.option("--email", required=True)
@click.option("--name", default=None, help="What the token is for.")
@click.option("--days", default=90, type=int, show_default=True, help="Days until it expires.")
@click.option(
    "--role",
    default=None,
    type=click.Choice([r.value for r in Role]),
    help="Act as a narrower role than the user's (admins: any; others: viewer).",
)
@click.option("--read-only", is_flag=True, help="Only GET requests.")
def create_token_command(
    email: str, name: str | None, days: int, role: str | None, read_only: bool
) -> None:
    """Create an API token for a user; the token is the last line printed."""
    from mcof_comms.auth.tokens import TokenError, create_token
    from mcof_comms.auth.users import get_user_by_email

    user = get_user_by_email(email)
    if user is None:
        raise click.ClickException(f"no user with email {email}")
    try:
        token = create_token(
            user, name, days=days, role=Role(role) if role else None, read_only=read_only
        )
    except TokenError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo("Store this token now; it is not shown again:", err=True)
    click.echo(token)


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option("--queues", default="", help="Comma-separated stages (default: all, by priority).")
def worker_command(burst: bool, queues: str) -> None:
    """Run an RQ worker for every queue, with the scheduler and the sweeper."""
    from mcof_comms.jobs import STAGES, Sweeper, get_backend, run_worker

    settings: Settings = current_app.extensions["mcof_settings"]
    backend = get_backend()
    if backend.embedded:
        raise click.ClickException(
            "REDIS_URL is not set: the embedded queue runs inside the web process; "
            "set REDIS_URL to run separate workers"
        )
    stages = [s.strip() for s in queues.split(",") if s.strip()] or list(STAGES)
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    sweeper = Sweeper(app, settings.sweep_interval_seconds)
    if burst:
        from mcof_comms.maintenance import sweep

        sweep()
    else:
        sweeper.start()
    run_worker(app, stages, burst=burst)
    sweeper.stopped.set()


@click.command("requeue-stuck")
@with_appcontext
@click.option("--older-than", default=0, type=int, help="Seconds a row must have waited.")
def requeue_stuck_command(older_than: int) -> None:
    """Re-enqueue every message left unprocessed or unsent."""
    from mcof_comms.maintenance import sweep

    result = sweep(older_than_seconds=older_than)
    click.echo(f"re-enqueued {result.inbound} inbound and {result.outbound} outbound messages")


@click.command("serve")
@with_appcontext
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int)
def serve_command(host: str, port: int) -> None:
    """Quick start: apply migrations, seed defaults, and serve with the embedded worker."""
    from flask_migrate import upgrade

    from mcof_comms.jobs import start_embedded_worker

    upgrade()
    _seed_defaults()
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    start_embedded_worker(app)
    from werkzeug.serving import run_simple

    click.echo(f"mcof-comms is running on http://{host}:{port}/ (Ctrl+C to stop)")
    run_simple(host, port, app, threaded=True, use_reloader=False)


def _seed_defaults() -> None:
    """Make a fresh install usable: taxonomy, default operation, and a living demo inbox."""
    from mcof_comms.demo import seed_demo_if_empty
    from mcof_comms.setup import seed_defaults

    seed_defaults()
    db.session.commit()
    seed_demo_if_empty()


def _pybabel(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", *args], check=True, cwd=ROOT)


@translate.command("extract")
def extract_command() -> None:
    """Extract marked strings into translations/messages.pot."""
    from mcof_comms.translations_check import TRANSLATIONS, extract

    extract(TRANSLATIONS / "messages.pot")


@translate.command("update")
def update_command() -> None:
    """Merge messages.pot into every catalog."""
    _pybabel(
        "update",
        "-i",
        "translations/messages.pot",
        "-d",
        "translations",
        "--no-fuzzy-matching",
        "--omit-header",
    )


@translate.command("compile")
def compile_command() -> None:
    """Compile every catalog to .mo."""
    _pybabel("compile", "-d", "translations")


@translate.command("check")
def check_command() -> None:
    """Fail when messages.pot, a catalog or a compiled catalog is stale."""
    from mcof_comms.translations_check import check_catalogs

    problems = check_catalogs()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} translation problem(s)")
    click.echo("catalogs are up to date")


def register_cli(app: Flask) -> None:
    import mcof_comms.auth.cli  # noqa: F401  (adds deactivate, reset-password, tokens list...)

    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(translate)
    app.cli.add_command(worker_command)
    app.cli.add_command(requeue_stuck_command)
    app.cli.add_command(serve_command)
    from mcof_comms.demo import demo_data_command

    app.cli.add_command(demo_data_command)
    from mcof_comms.pipeline.cli import register_pipeline_cli  # triage: train, operations

    register_pipeline_cli(app)
