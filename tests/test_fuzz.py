"""Fuzzed input (hypothesis): signed webhook posts are stored and answered 200, unsigned ones
403 and never stored, and no query string makes the API or the console answer 5xx.

Bounded: a few hundred examples in all, well under 30 seconds; no example database is kept.
"""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from mcof_comms.extensions import db
from mcof_comms.models import Message, Role
from tests.api.test_api import auth, cli_token
from tests.conftest import ACCOUNT_SID, sign
from tests.console.helpers import login, make_user

PATH = "/webhooks/twilio/messages"
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

ODD = [
    "", "0", "-1", "1.5", "99999999999", "9" * 40, "²", "٣", "١٢", "NaN", "inf", "1e309",
    "\x00", "a\x00b", "\x07\x1b[31m", "whatsapp:", "whatsapp:+", "whatsapp:US.ABC", "+",
    "+1234", "MTN-INFO", "72345", "STOP", "help", "INFO", "2026-13-45T25:61:00Z",
    "9999-12-31", "0001-01-01T00:00:00+14:00", "%00", "' OR 1=1 --", "<script>",
]  # fmt: skip
#: every code point but surrogates (a form cannot carry them): NUL and controls included
characters = st.characters(blacklist_categories=("Cs",))
values = st.one_of(
    st.sampled_from(ODD),
    st.text(characters, max_size=40),
    # around the Body limit, built cheaply (drawing 5,000 characters one by one is slow)
    st.builds(
        lambda c, n: c * n, st.text(characters, min_size=1, max_size=3), st.integers(1700, 2100)
    ),
)
WEBHOOK_FIELDS = [
    "MessageSid", "SmsMessageSid", "From", "To", "Body", "NumMedia", "MediaUrl0",
    "MediaContentType0", "MediaUrl1", "ProfileName", "WaId", "Latitude", "Longitude",
    "MessagingServiceSid", "OptOutType", "NumSegments", "ButtonPayload", "SmsStatus",
]  # fmt: skip
forms = st.dictionaries(
    st.one_of(st.sampled_from(WEBHOOK_FIELDS), st.text(characters, max_size=12)),
    values,
    max_size=12,
).map(lambda form: {**form, "AccountSid": ACCOUNT_SID})


def stored() -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(Message))


def test_fuzzed_signed_posts_are_stored_and_unsigned_ones_refused(app_ctx, client):
    @settings(FUZZ, max_examples=120)
    @given(form=forms, signed=st.booleans())
    def post(form: dict[str, str], signed: bool) -> None:
        before = stored()
        signature = sign("http://localhost" + PATH, form) if signed else "bm90IGEgc2lnbmF0dXJl"
        response = client.post(PATH, data=form, headers={"X-Twilio-Signature": signature})
        if signed:
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            assert stored() >= before  # a repeated MessageSid is stored once
        else:
            assert response.status_code == 403
            assert stored() == before

    post()


API_PARAMS = {
    "/api/v1/messages": ["contact", "channel", "direction", "status", "since", "cursor", "limit"],
    "/api/v1/cases": [
        "status", "open", "sector", "team", "urgency", "feedback_type", "needs_review",
        "sensitive", "alert", "operation", "contact", "since", "cursor", "limit",
    ],
}  # fmt: skip
CONSOLE_PARAMS = {
    "/inbox": [
        "status", "operation_id", "sector", "feedback_type", "urgency", "sensitive", "language",
        "area", "channel", "date_from", "date_to", "assignee", "q", "review", "cursor", "view",
    ],
    "/audit": ["before", "action"],
    "/dashboard": ["days", "operation_id"],
}  # fmt: skip
short_values = st.one_of(st.sampled_from(ODD), st.text(characters, max_size=30))


def queries(params: dict[str, list[str]]) -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(params)).flatmap(
        lambda path: st.dictionaries(
            st.one_of(st.sampled_from(params[path]), st.text(characters, max_size=8)),
            short_values,
            max_size=5,
        ).map(lambda args: f"{path}?{urlencode(args)}")
    )


def test_fuzzed_api_queries_never_answer_5xx(app, client):
    headers = auth(cli_token(app, "admin"))

    @settings(FUZZ, max_examples=120)
    @given(url=queries(API_PARAMS))
    def get(url: str) -> None:
        response = client.get(url, headers=headers)
        assert response.status_code < 500, url

    get()


def test_fuzzed_console_queries_never_answer_5xx(app, client):
    with app.app_context():
        make_user(Role.ADMIN)
    login(client, "admin@example.org")

    @settings(FUZZ, max_examples=80)
    @given(url=queries(CONSOLE_PARAMS))
    def get(url: str) -> None:
        response = client.get(url)
        assert response.status_code < 500, url

    get()
