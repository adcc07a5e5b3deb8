"""Settings read from the environment, in one place.

Everything the platform reads from ``os.environ`` is read here, by :meth:`Settings.from_env`.
Tests build a :class:`Settings` directly; production reads the environment.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(__file__).resolve().parent

#: Environment variables a production deployment must set.
REQUIRED_IN_PRODUCTION = (
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "PUBLIC_BASE_URL",
)


#: A production SECRET_KEY is at least this long (a random 32-byte hex string is 64).
MIN_SECRET_KEY_LENGTH = 32
#: Keys published in documentation, demos and tests: never accepted in production.
KNOWN_WEAK_SECRET_KEYS = frozenset(
    {
        "changeme",
        "change-me",
        "secret",
        "dev",
        "development",
        "demo-password",
        "quick-start",
        "test-secret-key",
        "bench",
        "x",
        "k",
    }
)
#: The label under which the export pseudonym key is derived from SECRET_KEY.
PSEUDONYM_KEY_LABEL = b"mcof-comms/export-pseudonym/v1"


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names it."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    #: keys export pseudonyms; empty: derived from ``secret_key`` (see ``export_pseudonym_key``)
    pseudonym_key: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_sms_from: str | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str | None = None
    public_base_url: str | None = None
    proxy_count: int = 0
    default_locale: str = "en"
    default_timezone: str = "UTC"
    default_region: str | None = None
    queue_prefix: str = "mcof"
    sweep_interval_seconds: int = 60
    stuck_after_seconds: int = 120
    outbound_rate_limit: float | None = None
    outbound_concurrency: int = 32
    #: minutes an unacknowledged life-threatening alert waits before the second on-call number
    #: is paged, where an operation sets no ``escalation_minutes`` of its own
    escalation_minutes: int = 10
    keywords_path: Path = CONFIG_DIR / "keywords.yaml"
    taxonomy_path: Path = CONFIG_DIR / "taxonomy.yaml"
    session_cookie_secure: bool = False
    #: a console session ends after this many minutes without a request ...
    session_idle_minutes: int = 30
    #: ... and this many hours after sign-in, however active (the cookie's lifetime too)
    session_max_hours: int = 12

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def export_pseudonym_key(self) -> str:
        """The key of export pseudonyms: never the session key itself, so an export cannot help
        forge a session and rotating one does not have to rotate the other."""
        if self.pseudonym_key:
            return self.pseudonym_key
        return hmac.new(self.secret_key.encode(), PSEUDONYM_KEY_LABEL, hashlib.sha256).hexdigest()

    @property
    def embedded(self) -> bool:
        """True on the quick-start default: SQLite and an in-process queue."""
        return self.redis_url is None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read the environment; in production a missing required variable stops start-up."""
        env = os.environ if env is None else env
        mode = env.get("MCOF_ENV", "development").strip() or "development"
        if mode == "production":
            missing = [name for name in REQUIRED_IN_PRODUCTION if not env.get(name)]
            if not (env.get("TWILIO_SMS_FROM") or env.get("TWILIO_MESSAGING_SERVICE_SID")):
                missing.append("TWILIO_SMS_FROM or TWILIO_MESSAGING_SERVICE_SID")
            if missing:
                raise ConfigError(
                    "MCOF_ENV=production but these environment variables are not set: "
                    + ", ".join(missing)
                )
            _check_production_secrets(env)
        instance = ROOT / "instance"
        database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'mcof.db'}"
        whatsapp_from = env.get("TWILIO_WHATSAPP_FROM") or None
        if whatsapp_from and not whatsapp_from.startswith("whatsapp:"):
            raise ConfigError("TWILIO_WHATSAPP_FROM must look like whatsapp:+E164")
        rate = env.get("OUTBOUND_RATE_LIMIT")
        return cls(
            env=mode,
            database_url=_normalize_database_url(database_url),
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or _dev_secret(instance),
            pseudonym_key=env.get("PSEUDONYM_KEY", ""),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_sms_from=env.get("TWILIO_SMS_FROM") or None,
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            twilio_whatsapp_from=whatsapp_from,
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL") or None,
            public_base_url=(env.get("PUBLIC_BASE_URL") or "").rstrip("/") or None,
            proxy_count=_int(env, "PROXY_COUNT", 0),
            default_locale=env.get("DEFAULT_LOCALE", "en"),
            default_timezone=env.get("DEFAULT_TIMEZONE", "UTC"),
            default_region=env.get("DEFAULT_REGION") or None,
            queue_prefix=env.get("QUEUE_PREFIX", "mcof"),
            sweep_interval_seconds=_int(env, "SWEEP_INTERVAL_SECONDS", 60),
            stuck_after_seconds=_int(env, "STUCK_AFTER_SECONDS", 120),
            outbound_rate_limit=float(rate) if rate not in (None, "") else None,
            outbound_concurrency=_int(env, "OUTBOUND_CONCURRENCY", 32),
            escalation_minutes=_int(env, "ESCALATION_MINUTES", 10),
            session_cookie_secure=mode == "production",
            session_idle_minutes=_int(env, "SESSION_IDLE_MINUTES", 30),
            session_max_hours=_int(env, "SESSION_MAX_HOURS", 12),
        )

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    def flask_config(self) -> dict[str, object]:
        return {
            "SECRET_KEY": self.secret_key,
            "MCOF_PSEUDONYM_KEY": self.export_pseudonym_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(self.database_url),
            "BABEL_DEFAULT_LOCALE": self.default_locale,
            "BABEL_DEFAULT_TIMEZONE": self.default_timezone,
            "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "REMEMBER_COOKIE_SECURE": self.session_cookie_secure,
            "WTF_CSRF_TIME_LIMIT": None,
            # Flask refuses a session cookie signed longer ago than this (default 31 days)
            "PERMANENT_SESSION_LIFETIME": timedelta(hours=self.session_max_hours),
            "JSON_SORT_KEYS": False,
        }


def _check_production_secrets(env: Mapping[str, str]) -> None:
    """Refuse a guessable SECRET_KEY and a public URL that is not https."""
    problems = []
    key = env.get("SECRET_KEY", "")
    if len(key) < MIN_SECRET_KEY_LENGTH or key.strip().lower() in KNOWN_WEAK_SECRET_KEYS:
        problems.append(
            f"SECRET_KEY must be a random value of at least {MIN_SECRET_KEY_LENGTH} characters "
            "(python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    pseudonym_key = env.get("PSEUDONYM_KEY", "")
    if pseudonym_key and len(pseudonym_key) < MIN_SECRET_KEY_LENGTH:
        problems.append(f"PSEUDONYM_KEY must have at least {MIN_SECRET_KEY_LENGTH} characters")
    if pseudonym_key and pseudonym_key == key:
        problems.append("PSEUDONYM_KEY must differ from SECRET_KEY")
    if not env.get("PUBLIC_BASE_URL", "").lower().startswith("https://"):
        problems.append("PUBLIC_BASE_URL must be an https:// URL")
    if problems:
        raise ConfigError("MCOF_ENV=production refuses: " + "; ".join(problems))


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _normalize_database_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL whatever scheme the operator wrote."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _engine_options(url: str) -> dict[str, object]:
    # hide_parameters: a failed statement's message would otherwise carry bodies and numbers
    if url.startswith("sqlite"):
        return {
            "connect_args": {"timeout": 30, "check_same_thread": False},
            "hide_parameters": True,
        }
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20, "hide_parameters": True}


def _dev_secret(instance: Path) -> str:
    """Outside production, keep one random key per checkout so sessions survive restarts."""
    path = instance / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        instance.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        write_private(path, key)
        return key


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (0600), whatever the umask."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # an existing file keeps its mode through O_CREAT: set it
