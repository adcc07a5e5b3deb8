"""Console inbox and case view at scale: 1,000,000 messages in PostgreSQL.

Generates the data with ``generate_series`` (about 330,000 cases, 200,000 contacts, 1,000,000
messages over 180 days), then measures, in the same run and on the same rows:

- the inbox list (``list_inbox``: scoped query, filters, keyset page, last message per row) for
  several filter sets and pages deep into the queue, and the whole ``GET /inbox`` page;
- the case view (conversation, events, whole ``GET /cases/<id>`` page);
- beside each, a plain indexed ``SELECT`` of the same rows (by primary key / ``case_id``).

Usage: ``.venv/bin/python bench/inbox.py`` (``BENCH_KEEP=1`` reuses generated data).
Target (issue 5): p95 < 150 ms for the inbox list and the case view.

A run on the development machine (2 cores), 1,000,000 messages, 200 runs each, p95 (after
migration 0006 made the trigram index partial): inbox list 5.1-8.1 ms over seven filter sets
(free-text search 21 ms) beside 2.7-3.0 ms for a plain SELECT of the same rows; case queries
1.9 ms (plain 1.4 ms); rendered pages: GET /inbox 27 ms, filtered 26 ms, GET /cases/<id>
13 ms. Without migration 0005's partial index the default inbox list took 219 ms p95, and
free-text search seconds.
"""

from __future__ import annotations

import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import recreate_database  # noqa: E402

PG = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/mcof_bench_inbox"
)
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
MESSAGES = int(os.environ.get("BENCH_MESSAGES", "1000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "200"))
PASSWORD = "bench-password"  # noqa: S105 (a throwaway account in a local benchmark database)
SECTORS = [
    "health", "shelter_nfi", "water_sanitation", "food", "camp_management", "cash",
    "protection_trafficking", "communications", "migration_policy", "transport",
]  # fmt: skip


def make_app():  # type: ignore[no-untyped-def]
    from config import Settings
    from mcof_comms import create_app

    settings = Settings(
        env="test",
        database_url=PG,
        redis_url=REDIS,
        secret_key="bench",  # noqa: S106 (local benchmark)
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token="bench",  # noqa: S106 (local benchmark)
        queue_prefix="mcofbench",
    )
    return create_app(settings)


def generate(app) -> None:  # type: ignore[no-untyped-def]
    """Recreate the database and fill it with set-based SQL (a minute or two)."""
    recreate_database(PG)
    from flask_migrate import upgrade

    from mcof_comms.extensions import db

    cases = (MESSAGES + 2) // 3
    contacts = MESSAGES // 5
    with app.app_context():
        upgrade()
        from mcof_comms.setup import seed_defaults

        seed_defaults()
        db.session.commit()
        sectors = "ARRAY[" + ",".join(f"'{s}'" for s in SECTORS) + "]"
        statements = [
            f"""INSERT INTO contact (id, phone, language, first_seen_at, last_seen_at, created_at, area, tags)
            SELECT g, '+5093' || lpad(g::text, 7, '0'),
                   (ARRAY['ht','fr','en','es','ar'])[1 + g % 5],
                   now() - interval '180 days', now(), now() - interval '180 days',
                   'Area ' || (g % 40), '[]'
            FROM generate_series(1, {contacts}) g""",
            f"""INSERT INTO contact_channel (id, contact_id, channel, address, first_seen_at)
            SELECT g, g, 'sms', '+5093' || lpad(g::text, 7, '0'), now() FROM generate_series(1, {contacts}) g""",
            f"""INSERT INTO feedback_case (id, reference, operation_id, contact_id, sector, sectors, status,
                   feedback_type, urgency, urgency_rank, sensitive_category, needs_review, language,
                   due_at, created_at, last_message_at, updated_at, first_response_at, closed_at)
            SELECT g, 'B' || lpad(g::text, 7, '0'), 1, 1 + (g::bigint * 7919) % {contacts},
                   ({sectors})[1 + ((g::bigint * 2654435761) % 1000003) % {len(SECTORS)}], '[]',
                   CASE WHEN g % 10 < 6 THEN 'closed' WHEN g % 10 < 8 THEN 'new'
                        WHEN g % 10 = 8 THEN 'in_progress' ELSE 'referred' END,
                   (ARRAY['question','request','complaint','rumour','suggestion','appreciation','other'])[1 + ((g::bigint * 40503) % 65537) % 7],
                   CASE WHEN g % 50 = 0 THEN 'life_threatening' WHEN g % 7 = 0 THEN 'urgent' ELSE 'normal' END,
                   CASE WHEN g % 50 = 0 THEN 0 WHEN g % 7 = 0 THEN 1 ELSE 2 END,
                   CASE WHEN g % 33 = 0 THEN 'fraud_corruption' END,
                   g % 17 = 0,
                   (ARRAY['ht','fr','en','es','ar'])[1 + g % 5],
                   now() - (g::float / {cases}) * interval '180 days' + interval '48 hours',
                   now() - (g::float / {cases}) * interval '180 days',
                   now() - (g::float / {cases}) * interval '180 days',
                   now() - (g::float / {cases}) * interval '180 days',
                   CASE WHEN g % 10 < 7 THEN now() - (g::float / {cases}) * interval '180 days' + interval '5 hours' END,
                   CASE WHEN g % 10 < 6 THEN now() - (g::float / {cases}) * interval '180 days' + interval '30 hours' END
            FROM generate_series(1, {cases}) g""",
            f"""INSERT INTO message (id, direction, channel, kind, status, status_rank, contact_id, external_id,
                   body, media, to_address, from_address, case_id, operation_id, language, sectors,
                   feedback_type, urgency, needs_review, triage, created_at, updated_at, attempts)
            SELECT g, CASE WHEN g % 3 = 2 THEN 'out' ELSE 'in' END, 'sms',
                   CASE WHEN g % 3 = 2 THEN 'reply' ELSE 'feedback' END,
                   CASE WHEN g % 3 = 2 THEN 'delivered' ELSE 'processed' END, 4,
                   c.contact_id, 'SM' || lpad(g::text, 32, '0'),
                   'Message ' || g || ': nou bezwen dlo ak manje nan kan an, timoun yo malad',
                   '[]', '+15005550006', '+5093' || lpad(c.contact_id::text, 7, '0'),
                   c.id, 1, c.language, '[]', c.feedback_type, c.urgency, false, '{{}}',
                   c.created_at + (g % 3) * interval '2 hours', now(), 0
            FROM generate_series(1, {MESSAGES}) g JOIN feedback_case c ON c.id = 1 + (g - 1) / 3""",
            "SELECT setval(pg_get_serial_sequence('contact','id'), (SELECT max(id) FROM contact))",
            "SELECT setval(pg_get_serial_sequence('contact_channel','id'), (SELECT max(id) FROM contact_channel))",
            "SELECT setval(pg_get_serial_sequence('feedback_case','id'), (SELECT max(id) FROM feedback_case))",
            "SELECT setval(pg_get_serial_sequence('message','id'), (SELECT max(id) FROM message))",
        ]  # fmt: skip
        with db.engine.begin() as conn:
            columns = set(
                conn.execute(
                    sa.text(
                        "SELECT column_name FROM information_schema.columns WHERE table_name='message'"
                    )
                ).scalars()
            )
            for statement in statements:
                if "attempts" not in columns:
                    statement = statement.replace(", attempts)", ")").replace(
                        ", now(), 0\n", ", now()\n"
                    )
                started = time.perf_counter()
                conn.execute(sa.text(statement))
                print(f"  {statement.split()[0:3]} {time.perf_counter() - started:.1f}s")
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        from mcof_comms.auth.users import create_user
        from mcof_comms.console.services import set_operations
        from mcof_comms.models import Role

        for user in (
            create_user("coordinator@bench.local", PASSWORD, Role.COORDINATOR),
            create_user(
                "health@bench.local", PASSWORD, Role.SECTOR_FOCAL_POINT, sectors=["health"]
            ),
            create_user("protection@bench.local", PASSWORD, Role.PROTECTION_FOCAL_POINT),
        ):
            set_operations(user, [], all_operations=True)
        db.session.commit()


def timed(fn: Callable[[], object], runs: int = RUNS) -> list[float]:
    fn()  # warm
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100)[int(q) - 1]


def report(name: str, samples: list[float], baseline: list[float] | None = None) -> None:
    line = f"{name:<52} p50 {p(samples, 50):7.1f} ms   p95 {p(samples, 95):7.1f} ms"
    if baseline:
        line += f"   (plain SELECT p95 {p(baseline, 95):6.1f} ms)"
    print(line)


def login(client, email: str) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302, response.status_code


def measure(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from mcof_comms.console.services import InboxFilters, get_conversation, list_inbox
    from mcof_comms.extensions import db
    from mcof_comms.models import Case, FeedbackType, Message, Urgency, User

    rng = random.Random(5)
    with app.app_context():
        total = db.session.scalar(select(sa.func.count(Message.id)))
        cases = db.session.scalar(select(sa.func.count(Case.id)))
        print(f"data: {total:,} messages, {cases:,} cases")
        users = {u.email.split("@")[0]: u for u in db.session.scalars(select(User))}
        scenarios = [
            ("coordinator, open cases, page 1", users["coordinator"], InboxFilters(), 0),
            ("coordinator, open cases, page 20 (keyset)", users["coordinator"], InboxFilters(), 19),
            ("coordinator, sector=shelter_nfi + type=complaint", users["coordinator"],
             InboxFilters(sector="shelter_nfi", feedback_type=FeedbackType.COMPLAINT), 0),
            ("coordinator, urgency=urgent + language=ar", users["coordinator"],
             InboxFilters(urgency=Urgency.URGENT, language="ar"), 0),
            ("coordinator, all statuses, search 'Message 99999'", users["coordinator"],
             InboxFilters(status="all", q="Message 99999:"), 0),
            ("coordinator, review queue", users["coordinator"], InboxFilters(review=True), 0),
            ("sector focal point (health), open", users["health"], InboxFilters(), 0),
            ("protection focal point, open sensitive", users["protection"], InboxFilters(), 0),
        ]  # fmt: skip
        for name, user, filters, depth in scenarios:
            cursor = None
            for _ in range(depth):
                cursor = list_inbox(user, filters, cursor).next_cursor
            ids: list[int] = []

            def run(user=user, filters=filters, cursor=cursor, ids=ids) -> None:  # type: ignore[no-untyped-def]
                page = list_inbox(user, filters, cursor)
                ids[:] = [row.case.id for row in page.rows]
                db.session.rollback()

            samples = timed(run)

            def plain(ids=ids) -> None:  # type: ignore[no-untyped-def]
                db.session.execute(
                    sa.text("SELECT * FROM feedback_case WHERE id = ANY(:ids)"), {"ids": ids}
                ).all()
                db.session.execute(
                    sa.text("SELECT * FROM message WHERE case_id = ANY(:ids) AND direction = 'in'"),
                    {"ids": ids},
                ).all()
                db.session.rollback()

            report(f"inbox list: {name} [{len(ids)} rows]", samples, timed(plain))

        case_ids = [rng.randint(1, cases) for _ in range(RUNS + 1)]
        it = iter(case_ids)

        def conversation() -> None:
            case = db.session.get(Case, next(it))
            get_conversation(case)
            db.session.rollback()

        samples = timed(conversation)
        it2 = iter(case_ids)

        def plain_case() -> None:
            case_id = next(it2)
            db.session.execute(
                sa.text("SELECT * FROM feedback_case WHERE id = :id"), {"id": case_id}
            ).all()
            db.session.execute(
                sa.text("SELECT * FROM message WHERE case_id = :id"), {"id": case_id}
            ).all()
            db.session.rollback()

        report("case view queries: case + conversation", samples, timed(plain_case))

    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    login(client, "coordinator@bench.local")
    report("GET /inbox (whole page, rendered)", timed(lambda: client.get("/inbox"), RUNS // 2))
    report(
        "GET /inbox?sector=health&urgency=urgent (rendered)",
        timed(lambda: client.get("/inbox?sector=health&urgency=urgent"), RUNS // 2),
    )
    non_sensitive = [i for i in case_ids if i % 33 != 0]
    it3 = iter(non_sensitive * 2)

    def case_page() -> None:
        response = client.get(f"/cases/{next(it3)}")
        assert response.status_code == 200, response.status_code

    report("GET /cases/<id> (whole page, rendered)", timed(case_page, RUNS // 2))


def main() -> None:
    app = make_app()
    if not os.environ.get("BENCH_KEEP"):
        started = time.perf_counter()
        print(f"generating {MESSAGES:,} messages ...")
        generate(app)
        print(f"generated in {time.perf_counter() - started:.0f}s")
    measure(app)


if __name__ == "__main__":
    main()
