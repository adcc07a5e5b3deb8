"""Demo data: a realistic operation with staff of every role, people writing in several
languages, and a few hundred messages triaged by the real pipeline, so the console opens onto a
living inbox (``flask --app app demo-data``; ``flask --app app serve`` runs it on an empty
database).

People are reached on ``sim:`` addresses that no provider delivers to: demo data never texts a
real phone, even on a deployment with Twilio configured.
"""

from __future__ import annotations

import logging
import random
import secrets
from dataclasses import dataclass
from datetime import timedelta

import click
import sqlalchemy as sa
from flask.cli import with_appcontext
from sqlalchemy import select

from mcof_comms.db import utcnow
from mcof_comms.extensions import db
from mcof_comms.models import (
    STATUS_RANK,
    Case,
    CaseEvent,
    CaseStatus,
    Channel,
    Contact,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Operation,
    Role,
    User,
)

logger = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password"  # noqa: S105  (a published demo password, printed on seeding)
DEMO_DOMAIN = "demo.mcof.local"
AREAS = ["Camp A", "Camp B", "Port-au-Prince", "Les Cayes", "Jérémie", "Border post"]

#: (language, text): what people write to a hotline after a hurricane, in their own words.
TEXTS: list[tuple[str, str]] = [
    ("ht", "Nou pa gen dlo pwòp nan kan an depi 3 jou"),
    ("ht", "Timoun yo malad, nou bezwen doktè"),
    ("ht", "Kay la kraze, nou bezwen prela ak tant"),
    ("ht", "Kilè distribisyon manje a ap fèt?"),
    ("ht", "Yo di vaksen an fè moun malad, èske se vre?"),
    ("ht", "Mèsi pou èd la, ekip la te byen janti"),
    ("ht", "Mwen pa jwenn kat distribisyon mwen"),
    ("fr", "Il n'y a plus d'eau potable au camp B"),
    ("fr", "Ma maison est détruite, où trouver un abri ?"),
    ("fr", "On dit que l'aide sera arrêtée la semaine prochaine, c'est vrai ?"),
    ("fr", "Quand aura lieu la prochaine distribution de kits d'hygiène ?"),
    ("fr", "Le centre de santé est fermé depuis hier"),
    ("fr", "Merci beaucoup pour les bâches"),
    ("fr", "Comment obtenir un nouveau document d'identité ?"),
    ("en", "We need clean water at the school shelter"),
    ("en", "My child has a high fever and the clinic is closed"),
    ("en", "People say the bridge will be closed for evacuation, is it true?"),
    ("en", "When is the next food distribution?"),
    ("en", "The latrines in camp A are overflowing"),
    ("en", "Thank you, the shelter kits arrived"),
    ("en", "I lost my papers in the flood, how do I get new ones?"),
    ("es", "Necesitamos agua potable en el albergue"),
    ("es", "Dicen que van a cerrar la frontera mañana, ¿es verdad?"),
    ("es", "Mi casa se inundó, necesitamos lonas"),
    ("es", "¿Cuándo es la próxima distribución de alimentos?"),
    ("ar", "نحتاج إلى مياه نظيفة في المخيم"),
    ("ar", "يقولون إن المساعدات ستتوقف الأسبوع القادم، هل هذا صحيح؟"),
    ("ar", "بيتي تهدم ونحتاج إلى خيمة"),
    ("ar", "طفلي مريض ونحتاج إلى طبيب"),
    ("sw", "Tunahitaji maji safi kambini"),
    ("sw", "Watu wanasema msaada utasimamishwa, ni kweli?"),
    ("sw", "Nyumba yangu imeharibiwa, tunahitaji turubai"),
    # urgent and sensitive ones, so the top of the queue and the protection desk are not empty
    ("en", "There are people trapped under the collapsed house on Rue 5, please help"),
    ("fr", "Un homme de l'équipe m'a demandé de l'argent pour m'inscrire sur la liste"),
    ("en", "He said I get my card faster if I come to his tent at night"),
    ("ht", "Gen yon fanm k ap akouche e li pa ka rive lopital"),
]
REPLIES = {
    "en": "Thank you. A team will visit tomorrow morning.",
    "fr": "Merci. Une équipe passera demain matin.",
    "ht": "Mèsi. Yon ekip ap pase demen maten.",
    "es": "Gracias. Un equipo pasará mañana por la mañana.",
    "ar": "شكرا لك. سيزوركم فريق صباح الغد.",
    "sw": "Asante. Timu itatembelea kesho asubuhi.",
}
STAFF = [
    (Role.ADMIN, "admin", None),
    (Role.COORDINATOR, "coordinator", None),
    (Role.SECTOR_FOCAL_POINT, "wash", ["water_sanitation", "health"]),
    (Role.SECTOR_FOCAL_POINT, "shelter", ["shelter_nfi", "camp_management"]),
    (Role.PROTECTION_FOCAL_POINT, "protection", None),
    (Role.RESPONDER, "responder", None),
    (Role.VIEWER, "viewer", None),
]


@dataclass(frozen=True)
class DemoResult:
    users: int
    messages: int
    cases: int


def is_empty() -> bool:
    """True on a fresh install: no staff and no messages yet."""
    return (
        db.session.scalar(select(User.id).limit(1)) is None
        and db.session.scalar(select(Message.id).limit(1)) is None
    )


def _ensure_staff() -> int:
    from mcof_comms.auth.users import create_user, get_user_by_email
    from mcof_comms.console.services import set_operations

    made = 0
    for role, name, sectors in STAFF:
        email = f"{name}@{DEMO_DOMAIN}"
        if get_user_by_email(email) is None:
            user = create_user(email, DEMO_PASSWORD, role, name=name.title(), sectors=sectors)
            set_operations(user, [], all_operations=True)
            made += 1
    return made


def is_demo_account(user: User) -> bool:
    """A login that demo data made: its password is published, so production refuses it."""
    return user.email.lower().endswith("@" + DEMO_DOMAIN)


def refused_login(user: User) -> bool:
    """True for a demo login on a production deployment: it may not sign in."""
    from flask import current_app

    return current_app.extensions["mcof_settings"].is_production and is_demo_account(user)


def list_demo_accounts() -> list[int]:
    """Ids of the demo logins in the database (start-up warns about them in production)."""
    return list(db.session.scalars(select(User.id).where(User.email.ilike(f"%@{DEMO_DOMAIN}"))))


def refuse_in_production() -> None:
    """Demo data creates known logins (admin included): never on a production deployment."""
    from flask import current_app

    if current_app.extensions["mcof_settings"].is_production:
        raise click.ClickException(
            "MCOF_ENV=production: demo data creates logins with a published password and is "
            "never seeded in production"
        )


def seed_demo(messages: int = 400, *, seed: int = 7) -> DemoResult:
    """Seed staff, people and messages through the real receive path and pipeline. Commits.

    Refused in production (:func:`refuse_in_production`).
    """
    refuse_in_production()
    from mcof_comms.console.views.simulator import simulate_inbound
    from mcof_comms.setup import seed_defaults

    seed_defaults()
    made_users = _ensure_staff()
    operation = db.session.scalars(select(Operation).where(Operation.is_default.is_(True))).first()
    if operation is not None:  # the inbox and audience filters offer the operation's areas
        operation.areas = sorted({*(operation.areas or []), *AREAS})
    db.session.commit()
    rng = random.Random(seed)  # noqa: S311  (demo data, not security)
    people = max(messages // 3, 1)
    phones = [f"+509{rng.randint(30000000, 49999999)}" for _ in range(people)]
    languages: dict[str, str] = {}
    ids: list[int] = []
    for _ in range(messages):
        phone = rng.choice(phones)
        language = languages.get(phone)
        choices = [t for t in TEXTS if language is None or t[0] == language] or TEXTS
        language, text = rng.choice(choices)
        languages[phone] = language
        channel = "whatsapp" if rng.random() < 0.35 else "sms"
        ids.append(simulate_inbound(phone, Channel(channel), text))
    _age_and_work(ids, rng)
    skip_simulated_sends()
    db.session.commit()
    cases = db.session.scalar(select(sa.func.count(Case.id))) or 0
    logger.info("seeded demo data: %s messages, %s cases", len(ids), cases)
    return DemoResult(made_users, len(ids), int(cases))


def skip_simulated_sends() -> int:
    """Settle queued messages to ``sim:`` addresses: no provider could deliver them, and a fresh
    quick start should not spend its queue failing hundreds of demo acknowledgements."""
    result = db.session.execute(
        sa.update(Message)
        .where(
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.QUEUED,
            Message.to_address.like("sim:%"),
        )
        .values(
            status=MessageStatus.SKIPPED,
            status_rank=STATUS_RANK[MessageStatus.SKIPPED],
            failure_reason="simulated",
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


def _age_and_work(message_ids: list[int], rng: random.Random) -> None:
    """Spread the messages over eight weeks and let staff answer, refer and close some cases."""
    now = utcnow()
    staff = list(db.session.scalars(select(User).where(User.email.like(f"%@{DEMO_DOMAIN}"))))
    coordinator = next((u for u in staff if u.role is Role.COORDINATOR), None)
    for case in db.session.scalars(select(Case).order_by(Case.id)):
        age = timedelta(minutes=rng.randint(10, 60 * 24 * 56))
        created = now - age
        shift = created - case.created_at
        case.created_at = created
        case.last_message_at = created
        if case.due_at is not None:
            case.due_at += shift
        for message in db.session.scalars(select(Message).where(Message.case_id == case.id)):
            message.created_at += shift
        for area_contact in db.session.scalars(
            select(Contact).where(Contact.id == case.contact_id)
        ):
            area_contact.area = area_contact.area or rng.choice(AREAS)
        if case.sensitive_category is not None or age < timedelta(hours=6):
            continue
        roll = rng.random()
        if roll < 0.55:
            _reply(case, created + timedelta(hours=rng.uniform(0.5, 40)), coordinator)
        if roll < 0.35:
            case.status = CaseStatus.CLOSED
            case.closed_at = created + timedelta(hours=rng.uniform(40, 120))
            case.resolved_at = case.closed_at
        elif roll < 0.45:
            case.status = CaseStatus.REFERRED
            case.referral_partner = case.referral_partner or "WASH cluster"
        elif roll < 0.6:
            case.status = CaseStatus.IN_PROGRESS
            case.assignee_id = coordinator.id if coordinator else None


def _reply(case: Case, when: object, actor: User | None) -> None:
    """A staff reply already delivered (demo history: never queued for sending)."""
    contact = db.session.get_one(Contact, case.contact_id)
    language = case.language if case.language in REPLIES else "en"
    channel = contact.channels[0] if contact.channels else None
    reply = Message(
        direction=Direction.OUT,
        channel=channel.channel if channel else Channel.SMS,
        kind=MessageKind.REPLY,
        contact_id=contact.id,
        body=REPLIES[language],
        to_address=channel.address if channel else None,
        case_id=case.id,
        operation_id=case.operation_id,
        language=language,
        num_segments=1,
        created_at=when,
        sent_at=when,
        provider_status="demo",
        external_id="DEMO" + secrets.token_hex(14),
    )
    reply.set_status(MessageStatus.DELIVERED)
    db.session.add(reply)
    case.first_response_at = when  # type: ignore[assignment]
    db.session.add(
        CaseEvent(
            case_id=case.id,
            actor_id=actor.id if actor else None,
            kind="reply",
            detail={"demo": True},
            created_at=when,
        )
    )


def seed_demo_if_empty() -> None:
    """``serve`` on a fresh database: seed the demo so the first page is a living inbox."""
    from flask import current_app

    if current_app.extensions["mcof_settings"].is_production or not is_empty():
        return  # never a known demo password on a production database
    result = seed_demo()
    click.echo(
        f"Seeded demo data ({result.messages} messages, {result.cases} cases). Sign in as "
        f"coordinator@{DEMO_DOMAIN} (or admin@, protection@, responder@, viewer@) with the "
        f"password {DEMO_PASSWORD!r}."
    )


@click.command("demo-data")
@with_appcontext
@click.option("--messages", default=400, show_default=True, type=click.IntRange(1, 20000))
def demo_data_command(messages: int) -> None:
    """Seed a realistic demo operation: staff of every role, people, triaged messages."""
    refuse_in_production()
    result = seed_demo(messages)
    click.echo(
        f"created {result.users} users, {result.messages} messages, {result.cases} cases in "
        f"total; sign in as coordinator@{DEMO_DOMAIN} with password {DEMO_PASSWORD!r}"
    )


__all__ = [
    "demo_data_command",
    "is_demo_account",
    "list_demo_accounts",
    "refuse_in_production",
    "refused_login",
    "seed_demo",
    "seed_demo_if_empty",
]
