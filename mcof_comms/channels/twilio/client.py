"""Build the twilio-python client: pooled keep-alive connections, optional loopback base URL."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

logger = logging.getLogger(__name__)


class PooledTwilioHttpClient(TwilioHttpClient):
    """A TwilioHttpClient sized for many sending threads, optionally aimed at another base URL.

    twilio-python mounts a pool of at most 32 connections on ``https://`` only, and formats every
    header into an INFO log line even when INFO is off; its list requests also log query strings
    (phone numbers). This client logs method and path only, at DEBUG.

    With ``api_base_url`` every ``*.twilio.com`` URL (api, messaging, content..., also after
    ``TWILIO_REGION``/``TWILIO_EDGE`` rewrote the host) goes to that base URL instead: the loopback
    fake in tests and benchmarks, or a recording proxy.
    """

    def __init__(
        self,
        *,
        api_base_url: str | None = None,
        pool_size: int = 32,
        timeout: float | None = 10,
    ) -> None:
        super().__init__(pool_connections=True, timeout=timeout, logger=logger)
        # max_retries=0: never resend a POST on our own; the caller decides, after find_sent
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0)
        self.session = requests.Session()
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self._target = urlsplit(api_base_url.rstrip("/")) if api_base_url else None

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """Send one request, with the host rewritten when a base URL is configured."""
        if self._target is not None:
            url = self.rewrite_url(url)
        return super().request(
            method,
            url,
            params=params,
            data=data,
            headers=headers,
            auth=auth,
            timeout=timeout,
            allow_redirects=allow_redirects,
        )

    def rewrite_url(self, url: str) -> str:
        """Point a ``*.twilio.com`` URL at the configured base URL; leave others alone."""
        if self._target is None:
            return url
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if host != "twilio.com" and not host.endswith(".twilio.com"):
            return url
        path = self._target.path + parts.path
        return urlunsplit((self._target.scheme, self._target.netloc, path, parts.query, ""))

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """Log method and path only: query strings and bodies hold phone numbers."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        """Log the status only."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio response %s", status_code)


def make_twilio_client(
    account_sid: str,
    auth_token: str,
    *,
    api_base_url: str | None = None,
    pool_size: int = 32,
    timeout: float = 10,
) -> Client:
    """Return a real twilio-python Client; keep ``pool_size`` >= the threads sending at once."""
    http_client = PooledTwilioHttpClient(
        api_base_url=api_base_url, pool_size=pool_size, timeout=timeout
    )
    return Client(account_sid, auth_token, http_client=http_client)
