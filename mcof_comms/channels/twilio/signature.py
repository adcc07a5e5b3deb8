"""Twilio request signatures. Fails closed: no token, no signature or a wrong one is a 403."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator, compare

from config import Settings

logger = logging.getLogger(__name__)


def signed_url() -> str:
    """The URL Twilio signed: the public base URL behind a proxy, else the URL we were called on."""
    settings: Settings = current_app.extensions["mcof_settings"]
    if settings.public_base_url:
        query = request.query_string.decode()
        return settings.public_base_url + request.path + (f"?{query}" if query else "")
    return request.url


def is_valid_signature() -> bool:
    settings: Settings = current_app.extensions["mcof_settings"]
    signature = request.headers.get("X-Twilio-Signature", "")
    if not settings.twilio_auth_token or not signature:
        return False
    validator = RequestValidator(settings.twilio_auth_token)
    url = signed_url()
    # every posted parameter takes part: Twilio adds new ones without notice. The URL as we
    # see it matches almost always; validate() also tries it with and without a default port.
    if compare(validator.compute_signature(url, request.form), signature):
        return True
    return bool(validator.validate(url, request.form, signature))


def require_twilio_signature(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not is_valid_signature():
            # path only: the form holds phone numbers and message text
            logger.warning("rejected unsigned or forged Twilio request to %s", request.path)
            abort(403, description="invalid Twilio signature")
        settings: Settings = current_app.extensions["mcof_settings"]
        account = request.form.get("AccountSid")
        if settings.twilio_account_sid and account and account != settings.twilio_account_sid:
            logger.warning("rejected Twilio request for another account to %s", request.path)
            abort(403, description="request is for another Twilio account")
        return view(*args, **kwargs)

    return wrapped
