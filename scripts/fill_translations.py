"""Fill msgstr entries of translations/<locale>/LC_MESSAGES/messages.po from a JSON file.

Usage: python scripts/fill_translations.py translations.json
JSON shape: {"<msgid>": {"fr": "...", "ar": "..."}}; plural msgids use the singular as key and a
list of forms as value. Existing translations are overwritten only when the JSON gives one.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(path: str) -> None:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for po_path in sorted((ROOT / "translations").glob("*/LC_MESSAGES/messages.po")):
        locale = po_path.parent.parent.name
        with po_path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        changed = 0
        for message in catalog:
            if not message.id:
                continue
            key = message.id if isinstance(message.id, str) else message.id[0]
            if key not in data:
                continue
            value = data[key].get(locale)
            if value is None and locale == "en":
                value = message.id if isinstance(message.id, str) else list(message.id)
                if not isinstance(value, str):
                    value = [value[0]] + [value[1]] * (catalog.num_plurals - 1)
            if value is None:
                continue
            message.string = tuple(value) if isinstance(value, list) else value
            message.flags.discard("fuzzy")
            changed += 1
        catalog.fuzzy = False  # a fuzzy header makes pybabel compile skip the whole catalog
        with po_path.open("wb") as fh:
            write_po(fh, catalog, omit_header=False, no_location=True, sort_output=True, width=100)
        print(f"{locale}: {changed} filled")


if __name__ == "__main__":
    main(sys.argv[1])
