"""Sign-in throttling in Redis: per IP, per (account, IP), and a per-account slow-down.

Why three counters and no lock. A lock per account lets anyone shut the admin out with a few
wrong passwords. Instead:

- **per IP**: one address spraying passwords over many accounts is slowed after
  :data:`IP_FREE` failures, with a delay that doubles on each further failure;
- **per (account, IP)**: guessing one account from one address is slowed after
  :data:`ACCOUNT_IP_FREE` failures; the real user at another address is not affected;
- **per account**: guessing one account from many addresses spaces attempts out after
  :data:`ACCOUNT_FREE` failures, never more than :data:`ACCOUNT_MAX_DELAY` apart, so the real
  user waits at most that long; an address the account signed in from before (kept 30 days) is
  exempt from this one.

A throttled attempt is refused before any password is hashed, so a flood costs no argon2
work. Counters are keyed by an HMAC of the email (existing or not) and of the address, so
Redis holds neither, and an unknown email is throttled exactly like a real one. If Redis fails,
sign-in is not throttled (logged): an outage must not lock every responder out of the console
in a crisis, and the argon2 cost still bounds guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass

import redis
from flask import current_app

from mcof_comms.jobs import get_backend

logger = logging.getLogger(__name__)

#: Failures are forgotten this long after the last one.
WINDOW_SECONDS = 15 * 60
IP_FREE = 20
ACCOUNT_IP_FREE = 5
ACCOUNT_FREE = 10
#: The longest wait per IP or per (account, IP), and per account across addresses.
MAX_DELAY = 15 * 60
ACCOUNT_MAX_DELAY = 60
#: How long an address where the account signed in is exempt from the account slow-down.
KNOWN_ADDRESS_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class _Keys:
    ip: str
    account_ip: str
    account: str
    known: str


def _digest(kind: str, value: str) -> str:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def _network(address: str | None) -> str:
    """An IPv6 client usually holds a whole /64: count the network, not one address in it."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _keys(email: str, address: str | None) -> _Keys:
    prefix = get_backend().prefix + ":login"
    account = _digest("account", email.strip().lower())
    ip = _digest("ip", _network(address))
    return _Keys(
        ip=f"{prefix}:ip:{ip}",
        account_ip=f"{prefix}:account-ip:{account}:{ip}",
        account=f"{prefix}:account:{account}",
        known=f"{prefix}:known:{account}:{ip}",
    )


def _delay(failures: int, free: int, cap: int) -> int:
    if failures < free:
        return 0
    return int(min(cap, 2 ** (failures - free)))


def _wait(entry: dict[bytes, bytes], free: int, cap: int, now: float) -> float:
    failures = int(entry.get(b"n", 0))
    last = float(entry.get(b"last", 0))
    return max(0.0, last + _delay(failures, free, cap) - now)


def seconds_to_wait(email: str, address: str | None) -> int:
    """0 when an attempt may be checked now, else the seconds until it may."""
    keys = _keys(email, address)
    try:
        pipe = get_backend().connection.pipeline(transaction=False)
        pipe.hgetall(keys.ip)
        pipe.hgetall(keys.account_ip)
        pipe.hgetall(keys.account)
        pipe.exists(keys.known)
        ip, account_ip, account, known = pipe.execute()
    except redis.RedisError:
        logger.warning("sign-in throttle unavailable (Redis); attempt not throttled")
        return 0
    now = time.time()
    waits = [
        _wait(ip, IP_FREE, MAX_DELAY, now),
        _wait(account_ip, ACCOUNT_IP_FREE, MAX_DELAY, now),
    ]
    if not known:
        waits.append(_wait(account, ACCOUNT_FREE, ACCOUNT_MAX_DELAY, now))
    wait = max(waits)
    return int(wait) + (1 if wait % 1 else 0)


def record_failure(email: str, address: str | None) -> None:
    """Count a wrong password or code on all three counters."""
    keys = _keys(email, address)
    now = time.time()
    try:
        pipe = get_backend().connection.pipeline(transaction=True)
        for key in (keys.ip, keys.account_ip, keys.account):
            pipe.hincrby(key, "n", 1)
            pipe.hset(key, "last", now)
            pipe.expire(key, WINDOW_SECONDS + MAX_DELAY)
        pipe.execute()
    except redis.RedisError:
        logger.warning("sign-in throttle unavailable (Redis); failure not counted")


def record_success(email: str, address: str | None) -> None:
    """Clear this address's counter for the account and remember the address as known.

    The account-wide counter stays: an attack from elsewhere goes on being slowed down.
    """
    keys = _keys(email, address)
    try:
        pipe = get_backend().connection.pipeline(transaction=True)
        pipe.delete(keys.account_ip)
        pipe.set(keys.known, 1, ex=KNOWN_ADDRESS_SECONDS)
        pipe.execute()
    except redis.RedisError:
        logger.warning("sign-in throttle unavailable (Redis); success not recorded")
