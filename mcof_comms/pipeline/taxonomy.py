"""Load and validate the triage taxonomy (``config/taxonomy.yaml``) into frozen dataclasses.

The YAML is edited by people who are not programmers, so every error names the place in the
file (``sectors.health.keywords.xx: unknown language``) instead of failing later at match time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from mcof_comms.pipeline.lexicon import Matcher, parse_term

DEFAULT_TAXONOMY_PATH = Path(__file__).resolve().parents[2] / "config" / "taxonomy.yaml"

MCOF_SECTORS = (
    "camp_management",
    "shelter_nfi",
    "transport",
    "health",
    "psychosocial",
    "reintegration",
    "stabilization",
    "drr",
    "land_property",
    "protection_trafficking",
    "border_management",
    "consular",
    "diaspora",
    "migration_policy",
    "communications",
)
REFERRALS = (
    "food",
    "water_sanitation",
    "education",
    "nutrition",
    "cash",
    "family_tracing",
    "search_rescue",
    "security",
    "livelihoods",
)
FEEDBACK_TYPES = (
    "question",
    "request",
    "complaint",
    "rumour",
    "suggestion",
    "appreciation",
    "other",
)
URGENCY_LEVELS = ("life_threatening", "urgent", "normal")
SENSITIVITY_CATEGORIES = (
    "sexual_exploitation_abuse",
    "gbv",
    "child_protection",
    "trafficking",
    "fraud_corruption",
    "staff_misconduct",
    "threat_to_life",
)
RULE_KINDS = ("sensitivity", "urgency")
CONCEPT_KINDS = ("sector", "referral", "feedback", "urgency", "sensitivity", "cue")


class TaxonomyError(ValueError):
    """The taxonomy file is invalid; the message says where."""


@dataclass(frozen=True, eq=False)
class Lexicon:
    """Terms per language code; ``weak`` terms count half."""

    terms: Mapping[str, tuple[str, ...]]
    weak: Mapping[str, tuple[str, ...]]

    def weighted_terms(self) -> list[tuple[str, float]]:
        """Return every (term, weight) pair across languages."""
        out = [(t, 1.0) for terms in self.terms.values() for t in terms]
        out += [(t, 0.5) for terms in self.weak.values() for t in terms]
        return out

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with at least one term."""
        return tuple(sorted(set(self.terms) | set(self.weak)))


@dataclass(frozen=True, eq=False)
class Category:
    """A sector, referral, feedback type, urgency level or sensitivity category."""

    slug: str
    kind: str
    name: str
    description: str
    lexicon: Lexicon
    mcof: int | None = None
    partner: str | None = None
    weight: float = 1.0

    @property
    def concept(self) -> str:
        """Matcher concept id, e.g. ``sector.health``."""
        return f"{self.kind}.{self.slug}"


@dataclass(frozen=True, eq=False)
class Rule:
    """Co-occurrence rule: all groups hit, none of ``none_of`` hit, optionally within a window."""

    id: str
    kind: str
    value: str
    all_of: tuple[str, ...]
    none_of: tuple[str, ...]
    window: int | None
    confidence: float


@dataclass(frozen=True, eq=False)
class Thresholds:
    """Decision thresholds (see the YAML for meanings)."""

    sector: float
    review: float
    language: float
    lexicon_hit: float


@dataclass(frozen=True, eq=False)
class Slas:
    """Expected response times in hours."""

    urgency: Mapping[str, int]
    feedback_type: Mapping[str, int]
    sensitivity: int


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """Everything triage needs from configuration, validated, with its lexicons compiled."""

    version: str
    languages: tuple[str, ...]
    sectors: Mapping[str, Category]
    referrals: Mapping[str, Category]
    feedback_types: Mapping[str, Category]
    urgency_levels: tuple[str, ...]
    urgency: Mapping[str, Category]
    urgency_from_sensitivity: Mapping[str, str]
    sensitivity: Mapping[str, Category]
    cues: Mapping[str, Lexicon]
    rules: tuple[Rule, ...]
    slas: Slas
    thresholds: Thresholds
    core_labels: tuple[str, ...]
    matcher: Matcher

    @property
    def label_slugs(self) -> tuple[str, ...]:
        """Sector then referral slugs: the label space of sector classification."""
        return (*self.sectors, *self.referrals)

    def label(self, slug: str) -> Category:
        """Return the sector or referral category for a slug (KeyError if unknown)."""
        return self.sectors.get(slug) or self.referrals[slug]

    def is_referral(self, slug: str) -> bool:
        """True for needs outside IOM sectors (routed to a partner)."""
        return slug in self.referrals

    def sla_hours(self, *, feedback_type: str, urgency: str, sensitive: bool) -> int:
        """Smallest expected response time that applies to a triaged message."""
        hours = [self.slas.urgency[urgency], self.slas.feedback_type[feedback_type]]
        if sensitive:
            hours.append(self.slas.sensitivity)
        return min(hours)


def _require(mapping: Any, key: str, where: str) -> Any:
    if not isinstance(mapping, Mapping) or key not in mapping:
        raise TaxonomyError(f"{where}: missing required key {key!r}")
    return mapping[key]


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TaxonomyError(f"{where}: expected a non-empty string, got {value!r}")
    return value


def _terms(value: Any, where: str, languages: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TaxonomyError(f"{where}: expected a mapping of language code to list of terms")
    out: dict[str, tuple[str, ...]] = {}
    for lang, terms in value.items():
        if lang not in languages:
            raise TaxonomyError(f"{where}.{lang}: unknown language (add it to `languages`)")
        if not isinstance(terms, list) or not terms:
            raise TaxonomyError(f"{where}.{lang}: expected a non-empty list of terms")
        clean: list[str] = []
        for term in terms:
            if isinstance(term, bool) or not isinstance(term, (str, int, float)):
                raise TaxonomyError(f"{where}.{lang}: term {term!r} is not text")
            text = str(term)
            try:
                words = parse_term(text)
            except ValueError as exc:
                raise TaxonomyError(f"{where}.{lang}: {exc}") from None
            if any(p and len(w) < 3 for w, p in words):
                raise TaxonomyError(f"{where}.{lang}: prefix in {text!r} is shorter than 3 letters")
            clean.append(text)
        out[str(lang)] = tuple(clean)
    return out


def _lexicon(raw: Mapping[str, Any], where: str, languages: tuple[str, ...]) -> Lexicon:
    return Lexicon(
        terms=_terms(raw.get("keywords"), f"{where}.keywords", languages),
        weak=_terms(raw.get("weak"), f"{where}.weak", languages),
    )


def _categories(
    raw: Any, kind: str, expected: tuple[str, ...], where: str, languages: tuple[str, ...]
) -> dict[str, Category]:
    if not isinstance(raw, Mapping):
        raise TaxonomyError(f"{where}: expected a mapping of slug to definition")
    missing = [s for s in expected if s not in raw]
    extra = [s for s in raw if s not in expected]
    if missing or extra:
        raise TaxonomyError(f"{where}: missing {missing or '-'}; unknown {extra or '-'}")
    out: dict[str, Category] = {}
    for slug, body in raw.items():
        here = f"{where}.{slug}"
        if not isinstance(body, Mapping):
            raise TaxonomyError(f"{here}: expected a mapping")
        weight = body.get("weight", 1.0)
        if not isinstance(weight, (int, float)) or weight <= 0:
            raise TaxonomyError(f"{here}.weight: expected a positive number")
        out[slug] = Category(
            slug=slug,
            kind=kind,
            name=_str(_require(body, "name", here), f"{here}.name"),
            description=_str(_require(body, "description", here), f"{here}.description"),
            lexicon=_lexicon(body, here, languages),
            mcof=body.get("mcof"),
            partner=(_str(body["partner"], f"{here}.partner") if "partner" in body else None),
            weight=float(weight),
        )
        if kind == "referral" and out[slug].partner is None:
            raise TaxonomyError(f"{here}: a referral needs a `partner`")
    return out


def _hours(raw: Any, keys: tuple[str, ...], where: str) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise TaxonomyError(f"{where}: expected a mapping")
    out: dict[str, int] = {}
    for key in keys:
        value = _require(raw, key, where)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            raise TaxonomyError(f"{where}.{key}: expected a positive whole number of hours")
        out[key] = value
    return out


def parse_taxonomy(raw: Any, *, source: str = "<taxonomy>") -> Taxonomy:
    """Validate a parsed YAML document and build a :class:`Taxonomy`."""
    if not isinstance(raw, Mapping):
        raise TaxonomyError(f"{source}: expected a mapping at the top level")
    version = _str(_require(raw, "version", source), "version")
    languages = tuple(_require(raw, "languages", source))
    if not languages or not all(isinstance(x, str) for x in languages):
        raise TaxonomyError("languages: expected a list of language codes")

    th = _require(raw, "thresholds", source)
    thresholds = Thresholds(
        **{k: float(_require(th, k, "thresholds")) for k in Thresholds.__dataclass_fields__}
    )
    for name, value in vars(thresholds).items():
        if not 0 < value < 1:
            raise TaxonomyError(f"thresholds.{name}: expected a number between 0 and 1")

    sectors = _categories(raw.get("sectors"), "sector", MCOF_SECTORS, "sectors", languages)
    referrals = _categories(raw.get("referrals"), "referral", REFERRALS, "referrals", languages)
    feedback = _categories(
        raw.get("feedback_types"), "feedback", FEEDBACK_TYPES, "feedback_types", languages
    )
    urg = _require(raw, "urgency", source)
    levels = tuple(_require(urg, "levels", "urgency"))
    if levels != URGENCY_LEVELS:
        raise TaxonomyError(f"urgency.levels: expected {list(URGENCY_LEVELS)}")
    urgency_kw = _require(urg, "keywords", "urgency")
    urgency = {
        level: Category(
            slug=level,
            kind="urgency",
            name=level.replace("_", " "),
            description=level,
            lexicon=Lexicon(
                _terms(urgency_kw.get(level), f"urgency.keywords.{level}", languages), {}
            ),
        )
        for level in levels
    }
    from_sens = dict(urg.get("from_sensitivity") or {})
    for cat, level in from_sens.items():
        if cat not in SENSITIVITY_CATEGORIES or level not in levels:
            raise TaxonomyError(f"urgency.from_sensitivity.{cat}: unknown category or level")

    sens_raw = _require(raw, "sensitivity", source)
    sensitivity = _categories(
        _require(sens_raw, "categories", "sensitivity"),
        "sensitivity",
        SENSITIVITY_CATEGORIES,
        "sensitivity.categories",
        languages,
    )
    cues_raw = raw.get("cues") or {}
    cues = {
        name: Lexicon(_terms(body, f"cues.{name}", languages), {})
        for name, body in cues_raw.items()
    }

    concepts: dict[str, Lexicon] = {}
    for group in (sectors, referrals, feedback, urgency, sensitivity):
        for cat in group.values():
            concepts[cat.concept] = cat.lexicon
    for name, lex in cues.items():
        concepts[f"cue.{name}"] = lex

    rules: list[Rule] = []
    seen_ids: set[str] = set()
    for i, body in enumerate(raw.get("rules") or []):
        here = f"rules[{i}]"
        rule_id = _str(_require(body, "id", here), f"{here}.id")
        if rule_id in seen_ids:
            raise TaxonomyError(f"{here}: duplicate rule id {rule_id!r}")
        seen_ids.add(rule_id)
        kind, _, value = _str(_require(body, "yields", here), f"{here}.yields").partition(".")
        valid = {"sensitivity": SENSITIVITY_CATEGORIES, "urgency": URGENCY_LEVELS}
        if kind not in valid or value not in valid[kind]:
            raise TaxonomyError(
                f"{here}.yields: expected sensitivity.<category> or urgency.<level>"
            )
        all_of = tuple(_require(body, "all", here))
        none_of = tuple(body.get("none") or ())
        for group in (*all_of, *none_of):
            if group not in concepts:
                raise TaxonomyError(f"{here}: unknown group {group!r}")
        if not all_of:
            raise TaxonomyError(f"{here}.all: needs at least one group")
        window = body.get("window")
        if window is not None and (not isinstance(window, int) or window < 1):
            raise TaxonomyError(f"{here}.window: expected a positive whole number of tokens")
        confidence = float(body.get("confidence", 0.7))
        if not 0 < confidence <= 1:
            raise TaxonomyError(f"{here}.confidence: expected a number in (0, 1]")
        rules.append(Rule(rule_id, kind, value, all_of, none_of, window, confidence))

    slas_raw = _require(raw, "slas", source)
    sens_hours = _require(slas_raw, "sensitivity", "slas")
    if not isinstance(sens_hours, int) or sens_hours <= 0:
        raise TaxonomyError("slas.sensitivity: expected a positive whole number of hours")
    slas = Slas(
        urgency=_hours(_require(slas_raw, "urgency", "slas"), URGENCY_LEVELS, "slas.urgency"),
        feedback_type=_hours(
            _require(slas_raw, "feedback_type", "slas"), FEEDBACK_TYPES, "slas.feedback_type"
        ),
        sensitivity=sens_hours,
    )
    core = tuple((raw.get("evaluation") or {}).get("core_labels") or ())
    for slug in core:
        if slug not in sectors and slug not in referrals:
            raise TaxonomyError(f"evaluation.core_labels: unknown slug {slug!r}")

    matcher = Matcher({c: lex.weighted_terms() for c, lex in concepts.items()})
    return Taxonomy(
        version=version,
        languages=languages,
        sectors=sectors,
        referrals=referrals,
        feedback_types=feedback,
        urgency_levels=levels,
        urgency=urgency,
        urgency_from_sensitivity=from_sens,
        sensitivity=sensitivity,
        cues=cues,
        rules=tuple(rules),
        slas=slas,
        thresholds=thresholds,
        core_labels=core,
        matcher=matcher,
    )


def load_taxonomy(path: str | Path = DEFAULT_TAXONOMY_PATH) -> Taxonomy:
    """Read, validate and compile a taxonomy YAML file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaxonomyError(f"{path}: not valid YAML: {exc}") from None
    return parse_taxonomy(raw, source=str(path))
