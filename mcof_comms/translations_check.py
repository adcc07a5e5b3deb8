"""Catalog freshness: CI fails when a string was added without extracting, updating or compiling."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from config import ROOT

TRANSLATIONS = ROOT / "translations"


def _ids(catalog: object) -> set[str]:
    return {str(m.id) if isinstance(m.id, str) else str(m.id[0]) for m in catalog if m.id}  # type: ignore[attr-defined]


def extract(output: Path) -> None:
    """Extract every marked string into ``output`` (a .pot), as the catalogs expect."""
    subprocess.run(
        [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "config/babel.cfg",
         "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output", "--omit-header",
         "-o", str(output), "."],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )  # fmt: skip


def _key(message_id: object) -> str:
    return str(message_id if isinstance(message_id, str) else message_id[0])  # type: ignore[index]


def _forms(string: object) -> tuple[str, ...]:
    """A .po gives plural forms as a tuple, a .mo as a list: compare them alike."""
    if isinstance(string, str):
        return (string,)
    return tuple(string)  # type: ignore[call-overload]


def check_catalogs() -> list[str]:
    problems: list[str] = []
    pot_path = TRANSLATIONS / "messages.pot"
    if not pot_path.exists():
        return ["translations/messages.pot is missing: run flask translate extract"]
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "messages.pot"
        extract(fresh)
        with fresh.open("rb") as fh:
            fresh_ids = _ids(read_po(fh))
    with pot_path.open("rb") as fh:
        committed_ids = _ids(read_po(fh))
    if fresh_ids != committed_ids:
        problems.append(
            f"messages.pot is stale ({len(fresh_ids - committed_ids)} new, "
            f"{len(committed_ids - fresh_ids)} gone): run flask translate extract and update"
        )
    for po_path in sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po")):
        locale = po_path.parent.parent.name
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        if catalog.fuzzy:
            problems.append(f"{locale}: the catalog header is fuzzy, so compile skips it")
        ids = _ids(catalog)
        if ids != fresh_ids:
            problems.append(
                f"{locale}: catalog does not match messages.pot: run flask translate update"
            )
        untranslated = [m.id for m in catalog if m.id and not m.string]
        fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
        if untranslated or fuzzy:
            problems.append(f"{locale}: {len(untranslated)} untranslated, {len(fuzzy)} fuzzy")
        mo_path = po_path.with_suffix(".mo")
        if not mo_path.exists():
            problems.append(f"{locale}: compiled catalog missing: run flask translate compile")
            continue
        with mo_path.open("rb") as fh:
            compiled = read_mo(fh)
        expected = {_key(m.id): _forms(m.string) for m in catalog if m.id and not m.fuzzy}
        got = {_key(m.id): _forms(m.string) for m in compiled if m.id}
        if expected != got:
            problems.append(f"{locale}: compiled catalog is stale: run flask translate compile")
    return problems
