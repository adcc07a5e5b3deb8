"""Operations and triage configuration as rows.

``config/taxonomy.yaml`` (sectors, referral partners, lexicons, rules, SLAs) is validated and
stored in ``taxonomy_config``; workers triage with the newest stored copy.
``config/operations.yaml`` (optional) describes operations: their numbers, time zone, languages
and active sectors. Every loader here is idempotent and safe to re-run while workers run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from flask import current_app
from sqlalchemy import delete, select

from config import CONFIG_DIR, Settings
from mcof_comms.db import insert_for, utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    Category,
    CategoryKind,
    Message,
    Operation,
    OperationAddress,
    OperationSector,
    Phase,
    TaxonomyConfig,
    Team,
)
from mcof_comms.outbound.templates import reply_templates_problem
from mcof_comms.pipeline.taxonomy import Taxonomy, TaxonomyError, parse_taxonomy

logger = logging.getLogger(__name__)

DEFAULT_OPERATION_SLUG = "default"
PROTECTION_TEAM = "protection"
REFERRAL_TEAM = "referral"
DEFAULT_OPERATIONS_PATH = CONFIG_DIR / "operations.yaml"


class OperationConfigError(ValueError):
    """The operations file is invalid; the message says where."""


# --- taxonomy -------------------------------------------------------------------------------


def _settings() -> Settings:
    settings: Settings = current_app.extensions["mcof_settings"]
    return settings


def _checksum(document: Mapping[str, Any]) -> str:
    canonical = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def load_taxonomy_config(path: Path | None = None) -> TaxonomyConfig:
    """Validate the taxonomy file and store it with its categories. Idempotent: an unchanged
    file adds nothing. Raises :class:`TaxonomyError` naming the place of a mistake."""
    path = path or _settings().taxonomy_path
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from None
    document = json.loads(json.dumps(raw, ensure_ascii=False, default=str))
    taxonomy = parse_taxonomy(document, source=str(path))
    checksum = _checksum(document)
    newest = db.session.scalars(
        select(TaxonomyConfig).order_by(TaxonomyConfig.id.desc()).limit(1)
    ).first()
    if newest is None or newest.checksum != checksum:
        newest = TaxonomyConfig(version=taxonomy.version, checksum=checksum, document=document)
        db.session.add(newest)
        db.session.flush()
        logger.info("stored taxonomy %s as config %s", taxonomy.version, newest.id)
    sync_categories(taxonomy)
    for operation in db.session.scalars(select(Operation)):
        sync_operation(operation, taxonomy)
    invalidate_caches()
    return newest


def sync_categories(taxonomy: Taxonomy) -> None:
    """Upsert the sector and referral categories (names, partners) from the taxonomy."""
    existing = {c.slug: c for c in db.session.scalars(select(Category))}
    for kind, group in (
        (CategoryKind.SECTOR, taxonomy.sectors),
        (CategoryKind.REFERRAL, taxonomy.referrals),
    ):
        for slug, cat in group.items():
            row = existing.get(slug)
            if row is None:
                row = Category(slug=slug, kind=kind)
                db.session.add(row)
            row.kind = kind
            row.name = cat.name
            row.description = cat.description
            row.mcof = cat.mcof
            row.partner = cat.partner
    db.session.flush()


#: How long a worker trusts what it read about config, operations and the model in use.
#: Loaders invalidate their own process at once; other processes follow within this time.
CACHE_SECONDS = 10.0
_T = TypeVar("_T")


def cached(name: str, load: Callable[[], _T], ttl: float = CACHE_SECONDS) -> _T:
    """Per-app memo with a time limit, so triage does not re-read config for every message."""
    store: dict[str, tuple[float, Any]] = current_app.extensions.setdefault("mcof_triage_cache", {})
    now = time.monotonic()
    hit = store.get(name)
    if hit is not None and now - hit[0] < ttl:
        value: _T = hit[1]
        return value
    value = load()
    store[name] = (now, value)
    return value


def invalidate_caches() -> None:
    current_app.extensions.pop("mcof_triage_cache", None)


_taxonomies: dict[tuple[int, str], Taxonomy] = {}  # compiled once per stored document


def _newest_taxonomy_key() -> tuple[int, str]:
    row = db.session.execute(
        select(TaxonomyConfig.id, TaxonomyConfig.checksum)
        .order_by(TaxonomyConfig.id.desc())
        .limit(1)
    ).first()
    if row is None:
        config = load_taxonomy_config()
        return (config.id, config.checksum)
    return (row.id, row.checksum)


def get_taxonomy() -> Taxonomy:
    """The newest stored taxonomy, compiled once per process (loaded from the file if none)."""
    key = cached("taxonomy", _newest_taxonomy_key)
    taxonomy = _taxonomies.get(key)
    if taxonomy is None:
        document = db.session.scalar(
            select(TaxonomyConfig.document).where(TaxonomyConfig.id == key[0])
        )
        taxonomy = parse_taxonomy(document, source=f"taxonomy_config {key[0]}")
        _taxonomies.clear()
        _taxonomies[key] = taxonomy
    return taxonomy


# --- operations -----------------------------------------------------------------------------


def _insert_ignore(table: Any, **values: Any) -> None:
    db.session.execute(
        insert_for(db.session.connection(), table).values(**values).on_conflict_do_nothing()
    )


def ensure_default_operation() -> Operation:
    """The operation that takes every number no other operation claims; created if missing.

    Safe under concurrent workers: the row is inserted with ON CONFLICT DO NOTHING.
    """
    operation = db.session.scalars(
        select(Operation).where(Operation.is_default.is_(True)).order_by(Operation.id).limit(1)
    ).first()
    if operation is not None:
        return operation
    settings = _settings()
    now = utcnow()
    _insert_ignore(
        Operation.__table__,
        slug=DEFAULT_OPERATION_SLUG,
        name="Default operation",
        areas=[],
        timezone=settings.default_timezone,
        phase=Phase.EMERGENCY.value,
        languages=[],
        default_language=settings.default_locale,
        is_default=True,
        active=True,
        settings={},
        created_at=now,
    )
    operation = db.session.scalars(
        select(Operation).where(Operation.slug == DEFAULT_OPERATION_SLUG)
    ).one()
    sync_operation(operation, get_taxonomy())
    logger.info("created the default operation %s", operation.id)
    return operation


def sync_operation(
    operation: Operation, taxonomy: Taxonomy, active_sectors: Iterable[str] | None = None
) -> None:
    """Give an operation a team per sector, a protection team, a referral desk and a row per
    sector and referral category. Existing rows keep their edits; ``active_sectors`` (when
    given) sets which MCOF sectors are active. Idempotent and race-safe."""
    now = utcnow()
    teams: list[tuple[str, str, str]] = [
        (slug, cat.name, "sector") for slug, cat in taxonomy.sectors.items()
    ]
    teams += [
        (PROTECTION_TEAM, "Protection focal points", "protection"),
        (REFERRAL_TEAM, "Referral desk", "referral"),
    ]
    for slug, name, kind in teams:
        _insert_ignore(
            Team.__table__,
            operation_id=operation.id,
            slug=slug,
            name=name,
            kind=kind,
            created_at=now,
        )
    team_ids: dict[str, int] = {
        row.slug: row.id
        for row in db.session.execute(
            select(Team.slug, Team.id).where(Team.operation_id == operation.id)
        )
    }
    # a sector goes to its own team, a referral category to the referral desk
    categories = [(slug, CategoryKind.SECTOR, team_ids[slug]) for slug in taxonomy.sectors]
    categories += [
        (slug, CategoryKind.REFERRAL, team_ids[REFERRAL_TEAM]) for slug in taxonomy.referrals
    ]
    for slug, kind, team_id in categories:
        _insert_ignore(
            OperationSector.__table__,
            operation_id=operation.id,
            slug=slug,
            kind=kind.value,
            active=True,
            priority=0,
            team_id=team_id,
        )
    if active_sectors is not None:
        wanted = set(active_sectors)
        unknown = wanted - set(taxonomy.sectors) - set(taxonomy.referrals)
        if unknown:
            raise OperationConfigError(
                f"operations.{operation.slug}.active_sectors: unknown {sorted(unknown)}"
            )
        for row in db.session.scalars(
            select(OperationSector).where(
                OperationSector.operation_id == operation.id,
                OperationSector.kind == CategoryKind.SECTOR,
            )
        ):
            row.active = row.slug in wanted
    db.session.flush()


def _operation_fields(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key in ("name", "country", "timezone", "default_language"):
        if key in entry:
            fields[key] = str(entry[key])
    if "timezone" in fields:
        try:
            ZoneInfo(fields["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise OperationConfigError(f"{where}.timezone: unknown time zone") from None
    if "phase" in entry:
        try:
            fields["phase"] = Phase(entry["phase"])
        except ValueError:
            choices = ", ".join(p.value for p in Phase)
            raise OperationConfigError(f"{where}.phase: expected one of {choices}") from None
    for key in ("areas", "languages"):
        if key in entry:
            fields[key] = [str(v) for v in entry[key] or []]
    if "settings" in entry:
        fields["settings"] = dict(entry["settings"] or {})
        from mcof_comms.cases.alerts import clean_alert_settings

        try:
            fields["settings"].update(clean_alert_settings(fields["settings"]))
        except ValueError as exc:
            raise OperationConfigError(f"{where}.settings.{exc}") from None
        fields["settings"] = {k: v for k, v in fields["settings"].items() if v is not None}
        if "reply_templates" in fields["settings"]:
            problem = reply_templates_problem(fields["settings"]["reply_templates"])
            if problem:
                raise OperationConfigError(f"{where}.settings.{problem}")
    return fields


def apply_operations_config(raw: Any, taxonomy: Taxonomy) -> list[Operation]:
    """Create or update the operations described in ``raw`` (parsed operations.yaml)."""
    entries = (raw or {}).get("operations") if isinstance(raw, Mapping) else None
    if not isinstance(entries, list):
        raise OperationConfigError("operations: expected a list of operations")
    seen_addresses: dict[str, str] = {}
    done: list[Operation] = []
    for index, entry in enumerate(entries):
        where = f"operations[{index}]"
        if not isinstance(entry, Mapping) or not entry.get("slug"):
            raise OperationConfigError(f"{where}: needs a slug")
        slug = str(entry["slug"])
        operation = db.session.scalars(select(Operation).where(Operation.slug == slug)).first()
        if operation is None:
            operation = Operation(slug=slug, name=str(entry.get("name", slug)))
            db.session.add(operation)
        for key, value in _operation_fields(entry, where).items():
            setattr(operation, key, value)
        operation.is_default = bool(entry.get("default", operation.is_default))
        db.session.flush()
        addresses = [str(a) for a in entry.get("addresses") or []]
        for address in addresses:
            if address in seen_addresses:
                raise OperationConfigError(
                    f"{where}.addresses: {address} is also claimed by {seen_addresses[address]}"
                )
            seen_addresses[address] = slug
        db.session.execute(
            delete(OperationAddress).where(
                OperationAddress.operation_id == operation.id,
                OperationAddress.address.not_in(addresses),
            )
        )
        # an address moves here from another operation: the file is the truth
        db.session.execute(
            delete(OperationAddress).where(
                OperationAddress.operation_id != operation.id,
                OperationAddress.address.in_(addresses),
            )
        )
        for address in addresses:
            _insert_ignore(OperationAddress.__table__, operation_id=operation.id, address=address)
        active = entry.get("active_sectors")
        sync_operation(operation, taxonomy, active_sectors=active)
        partners = entry.get("partners") or {}
        for row in operation.sectors:
            if row.slug in partners:
                row.partner = str(partners[row.slug])
        done.append(operation)
    db.session.flush()
    invalidate_caches()
    return done


def load_operations_config(path: Path = DEFAULT_OPERATIONS_PATH) -> list[Operation]:
    """Apply ``config/operations.yaml`` if it exists; returns the operations it describes."""
    if not path.exists():
        return []
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return apply_operations_config(raw, get_taxonomy())


@dataclass(frozen=True)
class OperationInfo:
    """What triage needs of an operation, as plain values (safe to keep between jobs)."""

    id: int
    slug: str
    timezone: str
    default_language: str
    settings: Mapping[str, Any]


@dataclass(frozen=True)
class SectorRow:
    slug: str
    kind: CategoryKind
    active: bool
    team_id: int | None
    partner: str | None


@dataclass(frozen=True)
class TeamRow:
    id: int
    slug: str
    kind: str


@dataclass(frozen=True)
class OperationSetup:
    """One operation with its sectors and teams, for routing."""

    operation: OperationInfo
    sectors: Mapping[str, SectorRow]
    teams: Mapping[str, TeamRow]  # by slug

    @property
    def active_sectors(self) -> frozenset[str]:
        return frozenset(slug for slug, row in self.sectors.items() if row.active)


@dataclass(frozen=True)
class _Directory:
    setups: Mapping[int, OperationSetup]
    by_address: Mapping[str, int]
    default_id: int | None


def _load_directory() -> _Directory:
    """Every active operation with its addresses, sectors and teams, in four queries."""
    operations = {
        op.id: OperationInfo(op.id, op.slug, op.timezone, op.default_language, op.settings or {})
        for op in db.session.scalars(select(Operation).where(Operation.active.is_(True)))
    }
    sectors: dict[int, dict[str, SectorRow]] = {op_id: {} for op_id in operations}
    for row in db.session.scalars(select(OperationSector)):
        if row.operation_id in sectors:
            sectors[row.operation_id][row.slug] = SectorRow(
                row.slug, row.kind, row.active, row.team_id, row.partner
            )
    teams: dict[int, dict[str, TeamRow]] = {op_id: {} for op_id in operations}
    for team in db.session.scalars(select(Team)):
        if team.operation_id in teams:
            teams[team.operation_id][team.slug] = TeamRow(team.id, team.slug, team.kind)
    by_address = {
        a.address: a.operation_id
        for a in db.session.scalars(select(OperationAddress).order_by(OperationAddress.id))
        if a.operation_id in operations
    }
    default_id = db.session.scalar(
        select(Operation.id)
        .where(Operation.is_default.is_(True), Operation.active.is_(True))
        .order_by(Operation.id)
        .limit(1)
    )
    setups = {
        op_id: OperationSetup(info, sectors[op_id], teams[op_id])
        for op_id, info in operations.items()
    }
    return _Directory(setups, by_address, default_id)


def resolve_operation(message: Message) -> OperationSetup:
    """The operation an inbound message was sent to: by its ``To`` number or sender, or its
    Messaging Service; otherwise the default operation (created on a fresh install)."""
    directory = cached("operations", _load_directory)
    candidates = [a for a in (message.to_address, message.messaging_service_sid) if a]
    if message.to_address and message.to_address.startswith("whatsapp:"):
        candidates.append(message.to_address.split(":", 1)[1])
    for address in candidates:
        if address in directory.by_address:
            return directory.setups[directory.by_address[address]]
    if directory.default_id is None:
        ensure_default_operation()
        invalidate_caches()
        directory = cached("operations", _load_directory)
    assert directory.default_id is not None  # noqa: S101 - ensure_default_operation made it
    return directory.setups[directory.default_id]


def operation_addresses(operation_id: int) -> list[str]:
    """The addresses an operation answers on, in the order its configuration lists them."""
    directory = cached("operations", _load_directory)
    return [a for a, op_id in directory.by_address.items() if op_id == operation_id]


def get_operation_setup(operation_id: int) -> OperationSetup:
    """A fresh read of one operation's setup (for corrections made by people)."""
    setup = _load_directory().setups.get(operation_id)
    if setup is None:
        raise LookupError(f"operation {operation_id} is not active")
    return setup
