"""Operations and triage configuration: seeded on a fresh install, loaded idempotently,
editable without a deploy, and used to pick the operation of an inbound message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from config import CONFIG_DIR
from mcof_comms.extensions import db
from mcof_comms.models import (
    Category,
    Operation,
    OperationAddress,
    OperationSector,
    TaxonomyConfig,
    Team,
)
from mcof_comms.operations.services import (
    OperationConfigError,
    apply_operations_config,
    get_taxonomy,
    load_taxonomy_config,
)
from mcof_comms.setup import seed_defaults
from tests.cases.helpers import all_cases, run_inbound, send


def count(model: type) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_defaults_is_idempotent_and_makes_a_usable_default_operation(app_ctx):
    seed_defaults()
    db.session.commit()
    seed_defaults()
    db.session.commit()

    (operation,) = db.session.scalars(select(Operation)).all()
    assert operation.is_default
    assert count(TaxonomyConfig) == 1
    assert count(Category) == 24
    teams = {t.slug: t.kind for t in db.session.scalars(select(Team))}
    assert len(teams) == 17
    assert teams["protection"] == "protection"
    assert teams["referral"] == "referral"
    assert teams["health"] == "sector"
    sectors = db.session.scalars(select(OperationSector)).all()
    assert len(sectors) == 24
    assert all(s.active for s in sectors)
    food = next(s for s in sectors if s.slug == "food")
    assert food.team_id == db.session.scalars(select(Team.id).where(Team.slug == "referral")).one()


def test_load_config_command_is_rerunnable(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["operations", "load-config"])
    second = runner.invoke(args=["operations", "load-config"])
    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "taxonomy 2026" in first.output
    with app.app_context():
        assert count(TaxonomyConfig) == 1
        assert count(Operation) == 1


def _edited_taxonomy(tmp_path: Path, **changes: object) -> Path:
    raw = yaml.safe_load((CONFIG_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    raw.update(changes)
    raw["referrals"]["food"]["partner"] = "WFP Haiti"
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_edited_config_is_used_without_a_deploy(app_ctx, tmp_path):
    seed_defaults()
    db.session.commit()
    before = get_taxonomy()
    load_taxonomy_config(_edited_taxonomy(tmp_path, version="2026.12-edited"))
    db.session.commit()

    assert count(TaxonomyConfig) == 2
    assert get_taxonomy().version == "2026.12-edited"
    assert get_taxonomy() is not before
    food = db.session.scalars(select(Category).where(Category.slug == "food")).one()
    assert food.partner == "WFP Haiti"


def test_invalid_config_is_refused_with_its_location(app, tmp_path):
    path = tmp_path / "taxonomy.yaml"
    raw = yaml.safe_load((CONFIG_DIR / "taxonomy.yaml").read_text(encoding="utf-8"))
    raw["sectors"]["health"]["keywords"]["xx"] = ["foo"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["operations", "load-config", "--taxonomy", path])
    assert result.exit_code != 0
    assert "sectors.health.keywords.xx" in result.output
    with app.app_context():
        assert count(TaxonomyConfig) == 0


HAITI = {
    "operations": [
        {
            "slug": "haiti-earthquake",
            "name": "Haiti earthquake response",
            "country": "HT",
            "timezone": "America/Port-au-Prince",
            "phase": "emergency",
            "languages": ["ht", "fr"],
            "default_language": "ht",
            "addresses": ["+15005550010", "MG" + "c" * 32],
            "active_sectors": ["shelter_nfi", "health", "camp_management"],
            "settings": {"emergency_number": "114"},
        }
    ]
}


def test_operation_is_chosen_by_its_number_and_inactive_sectors_are_referred(app_ctx, twilio_post):
    seed_defaults()
    apply_operations_config(HAITI, get_taxonomy())
    apply_operations_config(HAITI, get_taxonomy())  # idempotent
    db.session.commit()
    haiti = db.session.scalars(select(Operation).where(Operation.slug == "haiti-earthquake")).one()
    assert count(OperationAddress) == 2

    send(twilio_post, "The road is blocked, we need transport", "+50937001111", To="+15005550010")
    send(twilio_post, "The road is blocked, we need transport", "+50937002222")
    send(
        twilio_post,
        "Mon enfant est malade, il faut un médecin",
        "+50937003333",
        To="+15005550077",
        MessagingServiceSid="MG" + "c" * 32,
    )
    run_inbound(app_ctx)

    in_haiti, in_default, by_service = all_cases()
    assert in_haiti.operation_id == haiti.id
    assert db.session.get(Team, in_haiti.team_id).slug == "referral"
    assert in_haiti.referral_partner
    assert in_default.operation_id != haiti.id
    assert db.session.get(Team, in_default.team_id).slug == "transport"
    assert by_service.operation_id == haiti.id
    assert db.session.get(Team, by_service.team_id).operation_id == haiti.id


def test_an_address_claimed_twice_is_refused(app_ctx):
    seed_defaults()
    twice = {
        "operations": [
            {"slug": "a", "addresses": ["+15005550010"]},
            {"slug": "b", "addresses": ["+15005550010"]},
        ]
    }
    with pytest.raises(OperationConfigError, match="also claimed by a"):
        apply_operations_config(twice, get_taxonomy())


def test_unknown_time_zone_is_refused(app_ctx):
    seed_defaults()
    bad = {"operations": [{"slug": "x", "timezone": "Mars/Olympus"}]}
    with pytest.raises(OperationConfigError, match=r"operations\[0\].timezone"):
        apply_operations_config(bad, get_taxonomy())


def test_the_example_operations_file_loads(app):
    result = app.test_cli_runner().invoke(
        args=["operations", "load-config", "--operations", CONFIG_DIR / "operations.example.yaml"]
    )
    assert result.exit_code == 0, result.output
    assert "operation haiti-earthquake: 2 address(es)" in result.output
    with app.app_context():
        food = db.session.scalars(
            select(OperationSector)
            .join(Operation)
            .where(Operation.slug == "haiti-earthquake", OperationSector.slug == "food")
        ).one()
        assert food.partner == "WFP Haiti / Food Security cluster"
