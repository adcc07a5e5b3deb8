"""``flask --app app train`` and ``flask --app app operations load-config``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from mcof_comms.extensions import db

if TYPE_CHECKING:
    from mcof_comms.models import SectorModelVersion
    from mcof_comms.pipeline.training import TrainOutcome

operations = AppGroup("operations", help="Operations and triage configuration.")


@operations.command("load-config")
@click.option(
    "--taxonomy",
    "taxonomy_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Taxonomy YAML (default: config/taxonomy.yaml).",
)
@click.option(
    "--operations",
    "operations_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Operations YAML (default: config/operations.yaml, if it exists).",
)
def load_config_command(taxonomy_path: Path | None, operations_path: Path | None) -> None:
    """Load the triage taxonomy and operations into the database. Safe to re-run."""
    from mcof_comms.operations.services import (
        DEFAULT_OPERATIONS_PATH,
        OperationConfigError,
        ensure_default_operation,
        load_operations_config,
        load_taxonomy_config,
    )
    from mcof_comms.pipeline.taxonomy import TaxonomyError

    try:
        config = load_taxonomy_config(taxonomy_path)
        default = ensure_default_operation()
        loaded = load_operations_config(operations_path or DEFAULT_OPERATIONS_PATH)
    except (TaxonomyError, OperationConfigError) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"taxonomy {config.version} loaded (config {config.id})")
    click.echo(f"default operation: {default.slug}")
    for operation in loaded:
        click.echo(f"operation {operation.slug}: {len(operation.addresses)} address(es)")


@click.command("train")
@with_appcontext
@click.option("--force", is_flag=True, help="Train even if no correction arrived since last time.")
@click.option("--min-examples", default=None, type=int, help="Corrections needed to train.")
@click.option("--schedule", is_flag=True, help="Also schedule periodic retraining.")
def train_command(force: bool, min_examples: int | None, schedule: bool) -> None:
    """Train the sector and safety models on corrections; promote each only if it beats the
    one in use."""
    from mcof_comms.operations.services import get_taxonomy
    from mcof_comms.pipeline.training import MIN_TRAINING_EXAMPLES, train_and_maybe_promote

    outcome = train_and_maybe_promote(
        get_taxonomy(),
        min_examples=MIN_TRAINING_EXAMPLES if min_examples is None else min_examples,
        force=force,
    )
    db.session.commit()
    _report(outcome, "model", lambda v: v.version)
    from mcof_comms.pipeline.signal_training import train_signals_and_maybe_promote

    signals = train_signals_and_maybe_promote(
        get_taxonomy(),
        min_examples=MIN_TRAINING_EXAMPLES if min_examples is None else min_examples,
        force=force,
    )
    db.session.commit()
    _report(signals, "safety model", lambda v: f"safety model {v.id}")
    if schedule:
        from mcof_comms.pipeline.jobs import schedule_retraining

        job_id = schedule_retraining()
        click.echo(f"retraining scheduled ({job_id})" if job_id else "queue unavailable")


def _report(outcome: TrainOutcome, kind: str, name: Callable[[SectorModelVersion], str]) -> None:
    if outcome.version is None:
        click.echo(f"no {kind} trained: {outcome.reason}")
        return
    verdict = "promoted" if outcome.promoted else "not promoted"
    click.echo(
        f"{name(outcome.version)} {verdict}: held-back score {outcome.score:.3f} "
        f"vs {outcome.baseline:.3f} in use ({outcome.reason})"
    )


def register_pipeline_cli(app: Flask) -> None:
    app.cli.add_command(operations)
    app.cli.add_command(train_command)
