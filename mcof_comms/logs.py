"""Logging set-up: our loggers carry ids only, and a filter scrubs any number that slips in.

Phone numbers reach logs by paths we do not write ourselves: a database error's DETAIL line
(``Key (address)=(+243...) already exists``) in a traceback, a library's message. The filter
on the root handlers (RQ's worker logs through them too) rewrites such numbers before any
handler formats the record.
"""

from __future__ import annotations

import logging
import re

#: E.164 numbers, with or without a channel prefix, spaces or dashes inside; also URL-encoded.
_NUMBER = re.compile(
    r"(?:whatsapp:)?\+\d(?:[\d \-().]{5,20})\d|(?:whatsapp%3A)?%2B\d{6,15}", re.IGNORECASE
)
#: A number written without ``+`` (``?q=50937001234``, a national number): 7 to 15 digits in a
#: row, not inside a word, a decimal or an escape.
_BARE_NUMBER = re.compile(r"(?<![\w.%])\d{7,15}(?![\w.])")
#: ... unless it is one of our ids, which our log lines name: ``message 1234567``, ``case=…``.
_ID_BEFORE = re.compile(
    r"(?:message|case|contact|user|broadcast|operation|team|job|batch|range|cursor|id)s?"
    r"[ =:#]{1,3}$",
    re.IGNORECASE,
)
REDACTED = "[number]"


def _bare(match: re.Match[str]) -> str:
    before = match.string[max(0, match.start() - 16) : match.start()]
    return match.group() if _ID_BEFORE.search(before) else REDACTED


def redact(text: str) -> str:
    return _BARE_NUMBER.sub(_bare, _NUMBER.sub(REDACTED, text))


class RedactNumbers(logging.Filter):
    """Replace phone numbers in a record's message, traceback and stack before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: never raise into the caller from a filter
            message = f"{record.msg!s} (unformattable arguments)"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def configure_logging() -> None:
    """A root handler if there is none, the redacting filter on every root handler, and quiet
    libraries that log URLs with phone numbers in them."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    for handler in root.handlers:
        if not any(isinstance(f, RedactNumbers) for f in handler.filters):
            handler.addFilter(RedactNumbers())
    for noisy in ("urllib3", "twilio.http_client", "twilio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


try:  # gunicorn is the production web server; the embedded quick start runs without it
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object  # type: ignore[assignment,misc]


class GunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """Gunicorn's logger with numbers redacted from its error log and its access log (request
    lines and query strings such as ``?q=…`` or ``?phone=…``). Set in ``config/gunicorn.py``."""

    def setup(self, cfg: object) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if not any(isinstance(f, RedactNumbers) for f in log.filters):
                log.addFilter(RedactNumbers())

    def atoms(self, resp: object, req: object, environ: object, request_time: object) -> object:
        """Every value the access log format can name, redacted (the filter above covers the
        formatted line too; this keeps a custom format or a JSON formatter safe)."""
        values = super().atoms(resp, req, environ, request_time)
        return {k: redact(v) if isinstance(v, str) else v for k, v in values.items()}
