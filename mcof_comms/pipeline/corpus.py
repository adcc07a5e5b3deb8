"""The labelled messages shipped with the platform, from which the first model is trained.

A new deployment has no corrections yet, and the lexicons alone miss most indirect abuse
reports. So triage starts from a model trained on hand-written messages in the languages
people write (``data/triage_dev_train.jsonl``, the ``train`` split of the project's development
corpus; ``data/authored/*.jsonl``, messages written for the project; and
``data/figure_eight_direct.jsonl``, 2,500 real crisis SMS in their own language, mostly Haitian
Creole, from which the publisher removed every sensitive message: they teach the model what
ordinary traffic looks like, and cut the share of it sent to protection from about a quarter to
one in twenty; see ``data/README.md``), nothing downloaded.
Coordinators' corrections are added to these when the model is retrained.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from mcof_comms.pipeline.taxonomy import FEEDBACK_TYPES, SENSITIVITY_CATEGORIES, URGENCY_LEVELS

DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Labelled:
    """One labelled message. ``sensitive`` is a category or ``none``; ``group`` (the crisis
    context, or the correction's operation) keeps related messages on one side of a split."""

    text: str
    sectors: frozenset[str] = field(default_factory=frozenset)
    feedback_type: str | None = None
    sensitive: str | None = None
    urgency: str | None = None
    language: str | None = None
    group: str = ""
    hard_negative: bool = False

    def __post_init__(self) -> None:
        if self.sensitive is not None and self.sensitive not in (*SENSITIVITY_CATEGORIES, "none"):
            raise ValueError(f"unknown safeguarding category {self.sensitive!r}")
        if self.feedback_type is not None and self.feedback_type not in FEEDBACK_TYPES:
            raise ValueError(f"unknown feedback type {self.feedback_type!r}")
        if self.urgency is not None and self.urgency not in URGENCY_LEVELS:
            raise ValueError(f"unknown urgency {self.urgency!r}")


def from_record(record: dict[str, object]) -> Labelled:
    """A corpus line (the shared development corpus's schema) as a labelled message."""
    note = str(record.get("note") or "")
    return Labelled(
        text=str(record["text"]),
        sectors=frozenset(record.get("sectors") or ()),  # type: ignore[arg-type]
        feedback_type=record.get("feedback_type"),  # type: ignore[arg-type]
        sensitive=record.get("sensitive"),  # type: ignore[arg-type]
        urgency=record.get("urgency"),  # type: ignore[arg-type]
        language=record.get("language"),  # type: ignore[arg-type]
        group=str(record.get("context") or ""),
        hard_negative=note.startswith("hard negative"),
    )


def read_jsonl(paths: Iterable[Path]) -> list[Labelled]:
    """Labelled messages from JSON-lines files, in file then line order."""
    out = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            out.extend(from_record(json.loads(line)) for line in fh if line.strip())
    return out


def corpus_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """The shipped corpus files, sorted so training is reproducible."""
    return [
        data_dir / "triage_dev_train.jsonl",
        *sorted(data_dir.glob("authored/*.jsonl")),
        data_dir / "figure_eight_direct.jsonl",
    ]


@cache
def shipped_corpus() -> tuple[Labelled, ...]:
    """Every labelled message shipped in the package (read once per process)."""
    return tuple(read_jsonl(corpus_files()))


@cache
def shipped_fingerprint() -> str:
    """The shipped corpus's fingerprint, computed once per process (it hashes every text)."""
    return fingerprint(shipped_corpus())


def fingerprint(examples: Sequence[Labelled]) -> str:
    """Short stable hash of a training set, part of a model's version."""
    digest = hashlib.blake2b(digest_size=6)
    for e in examples:
        digest.update(e.text.encode("utf-8"))
        digest.update(
            f"|{sorted(e.sectors)}|{e.feedback_type}|{e.sensitive}|{e.urgency}\n".encode()
        )
    return digest.hexdigest()
