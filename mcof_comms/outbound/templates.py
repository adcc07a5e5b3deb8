"""Approved WhatsApp templates for one-to-one messages, for when the 24-hour window has closed.

A reply or a case-resolved notice often leaves days after the person last wrote. WhatsApp then
takes only an approved template, so an operation may name one per language in its settings::

    reply_templates:
      fr: {content_sid: HX..., variables: {"1": "{reference}", "2": "{text}"}}

``{text}`` is the message itself and ``{reference}`` its case reference. The row carries the
template from the start; the send job uses it only if the window is closed at send time, and
free text otherwise (``mcof_comms.outbound.window``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

PLACEHOLDERS = frozenset({"text", "reference"})
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def template_shape_ok(template: Any) -> bool:
    """A content_sid (HX...) and, optionally, variables mapping names to strings."""
    if not isinstance(template, Mapping) or not str(template.get("content_sid", "")).startswith(
        "HX"
    ):
        return False
    variables = template.get("variables", {})
    return isinstance(variables, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in variables.items()
    )


def reply_templates_problem(templates: Any) -> str | None:
    """What is wrong with an operation's ``reply_templates`` setting, or None."""
    if not isinstance(templates, Mapping):
        return "reply_templates must map languages to templates"
    for language, template in templates.items():
        if not template_shape_ok(template):
            return f"reply_templates.{language} needs a content_sid (HX...) and string variables"
        for value in template.get("variables", {}).values():
            unknown = set(_PLACEHOLDER.findall(value)) - PLACEHOLDERS
            if unknown:
                names = ", ".join(sorted(unknown))
                return f"reply_templates.{language}: unknown placeholder {{{names}}}"
    return None


def reply_template(
    settings: Mapping[str, Any] | None,
    language: str | None,
    default_language: str | None,
    *,
    text: str,
    reference: str | None,
) -> tuple[str, dict[str, str]] | None:
    """(content_sid, variables) for a one-to-one message, in its language or the operation's."""
    templates = (settings or {}).get("reply_templates") or {}
    if not isinstance(templates, Mapping):
        return None
    template = templates.get(language or "") or templates.get(default_language or "")
    if not template_shape_ok(template):
        return None
    values = {"text": _one_line(text), "reference": reference or ""}
    variables = {
        key: _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
        for key, value in template.get("variables", {}).items()
    }
    if any(len(value) > MAX_VARIABLE for value in variables.values()):
        return None  # WhatsApp would refuse it: SMS, where the person has it, carries it whole
    return str(template["content_sid"]), variables


#: WhatsApp refuses template parameters longer than this, or with new lines, tabs or more
#: than four spaces in a row.
MAX_VARIABLE = 1024
_SPACES = re.compile(r"\s+")


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()
