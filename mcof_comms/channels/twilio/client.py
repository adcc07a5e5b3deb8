"""Build the twilio-python client: pooled keep-alive connections, optional loopback base URL.

Two transports of twilio-python's own: ``TwilioHttpClient`` (requests, blocking) for single
calls, and ``AsyncTwilioHttpClient`` (aiohttp) for fan-out, where one event loop overlaps
hundreds of requests for a fraction of the CPU that as many threads cost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from typing import Any
from urllib.parse import SplitResult, urlencode, urlsplit, urlunsplit

import aiohttp
import requests
from requests.adapters import HTTPAdapter
from twilio.http.async_http_client import AsyncTwilioHttpClient
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
        return _rewrite(self._target, url)

    def log_request(self, kwargs: dict[str, Any]) -> None:
        """Log method and path only: query strings and bodies hold phone numbers."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio %s %s", kwargs["method"], urlsplit(kwargs["url"]).path)

    def log_response(self, status_code: int, response: Any) -> None:
        """Log the status only."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio response %s", status_code)


class PooledAsyncTwilioHttpClient(AsyncTwilioHttpClient):
    """twilio-python's aiohttp transport with our base URL, pool size, timeout and quiet logs.

    The aiohttp session belongs to the event loop that first uses it, so it is opened lazily
    inside that loop. Responses are returned from local variables: the stock client keeps the
    last response on the instance, which concurrent requests would share.
    """

    def __init__(
        self,
        *,
        api_base_url: str | None = None,
        pool_size: int = 32,
        timeout: float = 10,
    ) -> None:
        super().__init__(pool_connections=False, timeout=timeout, logger=logger)
        self._target = urlsplit(api_base_url.rstrip("/")) if api_base_url else None
        self._pool_size = pool_size
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._proxies: dict[str, str | None] = {}

    def _open(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._loop is not loop:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size, ssl=_tls_context()),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            )
            self._loop = loop
        return self._session

    def _proxy(self, url: str) -> str | None:
        """HTTPS_PROXY and NO_PROXY as requests reads them, once per host.

        aiohttp's ``trust_env`` would look them (and ~/.netrc) up on a thread for every request,
        which cost more than the request itself.
        """
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self._proxies:
            proxies = requests.utils.get_environ_proxies(url)
            self._proxies[origin] = requests.utils.select_proxy(url, proxies)
        return self._proxies[origin]

    async def request(
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
        """Send one request (host rewritten when a base URL is configured)."""
        if timeout is not None and timeout <= 0:
            raise ValueError(timeout)
        session = self._open()
        url = _rewrite(self._target, url)
        headers = dict(headers or {})
        if auth is not None:
            headers["Authorization"] = aiohttp.encode_basic_auth(auth[0], auth[1])
        options: dict[str, Any] = {"proxy": self._proxy(url)}
        if timeout:
            options["timeout"] = aiohttp.ClientTimeout(total=timeout)
        if data is not None and "json" in headers.get("Content-Type", ""):
            options["json"] = data
        elif data is not None:
            # encoded as requests does (lists as repeated keys), cheaper than aiohttp's FormData
            options["data"] = urlencode(data, doseq=True).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio %s %s", method.upper(), urlsplit(url).path)
        async with session.request(
            method.upper(),
            url,
            params=_query(params),
            headers=headers,
            allow_redirects=allow_redirects,
            **options,
        ) as response:
            text = await response.text()
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("twilio response %s", response.status)
        return Response(response.status, text, response.headers)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _tls_context() -> ssl.SSLContext:
    """The certificates requests trusts (REQUESTS_CA_BUNDLE, else certifi's), so that both
    transports accept the same servers, a TLS-inspecting egress proxy included."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return ssl.create_default_context(cafile=bundle or requests.certs.where())


def _rewrite(target: SplitResult | None, url: str) -> str:
    if target is None:
        return url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host != "twilio.com" and not host.endswith(".twilio.com"):
        return url
    path = target.path + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, ""))


def _query(params: dict[str, object] | None) -> list[tuple[str, str]] | None:
    """aiohttp takes only str/int/float query values: twilio passes None for unset filters."""
    if not params:
        return None
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if value is None:
            continue
        for item in value if isinstance(value, list | tuple) else [value]:
            pairs.append((key, str(item)))
    return pairs


def make_twilio_client(
    account_sid: str,
    auth_token: str,
    *,
    api_base_url: str | None = None,
    pool_size: int = 32,
    timeout: float = 10,
) -> Client:
    """Return a real twilio-python Client; keep ``pool_size`` >= the requests sent at once."""
    http_client = PooledTwilioHttpClient(
        api_base_url=api_base_url, pool_size=pool_size, timeout=timeout
    )
    return Client(account_sid, auth_token, http_client=http_client)


def async_twin(client: Client, *, pool_size: int | None = None) -> Client:
    """The same account, base URL and timeout as ``client``, on the aiohttp transport."""
    http = client.http_client
    target = getattr(http, "_target", None)
    adapter = http.session.get_adapter("https://") if getattr(http, "session", None) else None
    twin = PooledAsyncTwilioHttpClient(
        api_base_url=urlunsplit(target) if target is not None else None,
        pool_size=pool_size or getattr(adapter, "_pool_maxsize", 32),
        timeout=http.timeout or 10,
    )
    return Client(
        client.username, client.password, account_sid=client.account_sid, http_client=twin
    )
