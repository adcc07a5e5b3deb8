"""Trained models as bytes: a format header, then pickle.

The header names what the bytes hold, so a row of one kind is never loaded as another. Pickle
runs code when loaded: load only bytes this platform produced and stored itself.
"""

from __future__ import annotations

import io
import pickle
from typing import TypeVar

_T = TypeVar("_T")


def dump(obj: object, header: bytes) -> bytes:
    """``header`` followed by the pickled object."""
    buffer = io.BytesIO()
    buffer.write(header)
    pickle.dump(obj, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    return buffer.getvalue()


def load(data: bytes, header: bytes, cls: type[_T]) -> _T:
    """The object :func:`dump` wrote with ``header``; ValueError if it is not a ``cls``."""
    if not data.startswith(header):
        raise ValueError(f"not a serialised {cls.__name__} (bad header)")
    obj = pickle.loads(data[len(header) :])  # noqa: S301 - our own stored models only
    if not isinstance(obj, cls):
        raise ValueError(f"serialised object is not a {cls.__name__}")
    return obj
