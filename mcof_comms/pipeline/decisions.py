"""Rule-based decisions: feedback type, urgency, safeguarding sensitivity, lexicon sectors.

Each decision names its evidence as ``<value>:<keyword>`` or ``rule:<rule id>`` so a coordinator
sees why, without the message text being copied anywhere.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcof_comms.pipeline.lexicon import Hit, hit_score, normalize, tokenize
from mcof_comms.pipeline.taxonomy import Rule, Taxonomy

if TYPE_CHECKING:
    from mcof_comms.pipeline.signals import Signals

MAX_EVIDENCE = 8


@dataclass(frozen=True, slots=True)
class Decision:
    """One triage decision; ``value`` None means nothing was found (sensitivity only)."""

    value: str | None
    confidence: float
    source: str
    evidence: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """JSON-serialisable form for storing with the message."""
        return {
            "value": self.value,
            "confidence": self.confidence,
            "source": self.source,
            "evidence": list(self.evidence),
        }


@dataclass(frozen=True, slots=True)
class SectorMatch:
    """A sector or referral slug with a confidence in [0, 1]; 0.5 and above means assigned."""

    slug: str
    confidence: float
    source: str


@dataclass(frozen=True, slots=True)
class Matched:
    """A message tokenised and matched once, shared by every classifier."""

    tokens: tuple[str, ...]
    hits: dict[str, list[Hit]]

    def concept_hits(self, concept: str) -> list[Hit]:
        """Hits for one concept id (empty list if none)."""
        return self.hits.get(concept, [])


def match_text(text: str, taxonomy: Taxonomy) -> Matched:
    """Normalise, tokenise and match every lexicon of the taxonomy once."""
    tokens = tokenize(normalize(text))
    return Matched(tuple(tokens), taxonomy.matcher.match(tokens))


def _matched(text: str, taxonomy: Taxonomy, matched: Matched | None) -> Matched:
    return matched if matched is not None else match_text(text, taxonomy)


def strength(score: float, per_hit: float) -> float:
    """Confidence from a weighted hit count: one strong hit gives ``per_hit``."""
    return round(1.0 - (1.0 - per_hit) ** score, 3) if score > 0 else 0.0


def _evidence(label: str, hits: Sequence[Hit]) -> list[str]:
    return [f"{label}:{h.term}" for h in hits]


def _within(groups: Sequence[Sequence[Hit]], window: int) -> bool:
    for combo in itertools.product(*groups):
        if max(h.end for h in combo) - min(h.start for h in combo) <= window:
            return True
    return False


def fired_rules(matched: Matched, taxonomy: Taxonomy, kind: str) -> list[Rule]:
    """Rules of one kind (``sensitivity`` or ``urgency``) whose conditions hold."""
    out: list[Rule] = []
    for rule in taxonomy.rules:
        if rule.kind != kind:
            continue
        groups = [matched.concept_hits(g) for g in rule.all_of]
        if not all(groups) or any(matched.concept_hits(g) for g in rule.none_of):
            continue
        if rule.window is not None and not _within(groups, rule.window):
            continue
        out.append(rule)
    return out


def classify_sectors_lexicon(
    text: str, *, taxonomy: Taxonomy, matched: Matched | None = None
) -> list[SectorMatch]:
    """Cold-start multi-label sector classifier: every sector/referral with a keyword hit."""
    m = _matched(text, taxonomy, matched)
    source = f"lexicon:{taxonomy.version}"
    per_hit = taxonomy.thresholds.lexicon_hit
    out = []
    for group in (taxonomy.sectors, taxonomy.referrals):
        for cat in group.values():
            score = hit_score(m.concept_hits(cat.concept))
            if score > 0:
                out.append(SectorMatch(cat.slug, strength(score, per_hit), source))
    out.sort(key=lambda s: (-s.confidence, s.slug))
    return out


def lexicon_evidence(matched: Matched, slug: str, taxonomy: Taxonomy) -> list[str]:
    """Keywords behind a lexicon sector match, for explanations."""
    cat = taxonomy.label(slug)
    return [h.term for h in matched.concept_hits(cat.concept)][:MAX_EVIDENCE]


def classify_feedback_type(
    text: str, *, taxonomy: Taxonomy, matched: Matched | None = None
) -> Decision:
    """IFRC feedback type: highest weighted cue score wins; ``other`` when no cue is present."""
    m = _matched(text, taxonomy, matched)
    source = f"lexicon:{taxonomy.version}"
    scored = []
    for order, cat in enumerate(taxonomy.feedback_types.values()):
        hits = m.concept_hits(cat.concept)
        if hit_score(hits) >= 1.0:  # weak cues count only in pairs or beside a strong one
            scored.append((hit_score(hits) * cat.weight, -order, cat.slug, hits))
    if not scored:
        return Decision("other", 0.5, source, ())
    scored.sort(reverse=True)
    best, _, slug, hits = scored[0]
    second = scored[1][0] if len(scored) > 1 else 0.0
    margin = (best - second) / best
    confidence = round(strength(best, 0.6) * (0.5 + 0.5 * margin), 3)
    return Decision(slug, confidence, source, tuple(_evidence(slug, hits)[:MAX_EVIDENCE]))


def detect_sensitivity(
    text: str, *, taxonomy: Taxonomy, matched: Matched | None = None
) -> Decision:
    """Safeguarding category (value None if none), tuned for recall.

    Direct keywords and co-occurrence rules both count; the first category in config order
    wins, and the evidence lists every category that fired.
    """
    m = _matched(text, taxonomy, matched)
    source = f"lexicon:{taxonomy.version}"
    evidence: list[str] = []
    confidence: dict[str, float] = {}
    for cat in taxonomy.sensitivity.values():
        hits = m.concept_hits(cat.concept)
        if hits:
            confidence[cat.slug] = strength(hit_score(hits), 0.75)
            evidence += _evidence(cat.slug, hits)
    for rule in fired_rules(m, taxonomy, "sensitivity"):
        confidence[rule.value] = max(confidence.get(rule.value, 0.0), rule.confidence)
        evidence.append(f"rule:{rule.id}")
    if not confidence:
        return Decision(None, 0.0, source, ())
    value = next(s for s in taxonomy.sensitivity if s in confidence)
    return Decision(value, confidence[value], source, tuple(evidence[:MAX_EVIDENCE]))


def classify_urgency(
    text: str,
    *,
    taxonomy: Taxonomy,
    matched: Matched | None = None,
    sensitivity: str | None = None,
) -> Decision:
    """Most severe urgency level found by keywords, rules or the sensitivity category."""
    m = _matched(text, taxonomy, matched)
    source = f"lexicon:{taxonomy.version}"
    levels = taxonomy.urgency_levels
    found: dict[str, tuple[float, list[str]]] = {}

    def add(level: str, conf: float, why: list[str]) -> None:
        old_conf, old_why = found.get(level, (0.0, []))
        found[level] = (max(old_conf, conf), old_why + why)

    for level, cat in taxonomy.urgency.items():
        hits = m.concept_hits(cat.concept)
        if hits:
            add(level, strength(hit_score(hits), 0.7), _evidence(level, hits))
    for rule in fired_rules(m, taxonomy, "urgency"):
        add(rule.value, rule.confidence, [f"rule:{rule.id}"])
    if sensitivity is not None and sensitivity in taxonomy.urgency_from_sensitivity:
        add(taxonomy.urgency_from_sensitivity[sensitivity], 0.8, [f"sensitivity:{sensitivity}"])
    for level in levels[:-1]:
        if level in found:
            conf, why = found[level]
            return Decision(level, conf, source, tuple(why[:MAX_EVIDENCE]))
    return Decision(levels[-1], 0.6, source, ())


def sensitivity_with_signals(rules: Decision, signals: Signals, source: str) -> Decision:
    """Safeguarding from the rules and the model: either one flags (recall first).

    The category is the rules' when they fired (their evidence names it), else the model's.
    """
    model_flags = signals.sensitive >= 0.5
    if rules.value is None and not model_flags:
        return Decision(None, round(1.0 - signals.sensitive, 3), source, ())
    evidence = [*rules.evidence, f"model:{signals.sensitive:.2f}"]
    if rules.value is not None:
        confidence = max(rules.confidence, signals.sensitive)
        both = f"{rules.source}+{source}" if model_flags else rules.source
        return Decision(rules.value, round(confidence, 3), both, tuple(evidence[:MAX_EVIDENCE]))
    evidence.append(f"category:{signals.category}:{signals.category_confidence:.2f}")
    return Decision(signals.category, signals.sensitive, source, tuple(evidence))


def urgency_with_signals(
    rules: Decision, signals: Signals, source: str, *, sensitivity: str | None, taxonomy: Taxonomy
) -> Decision:
    """The most severe of the rules' urgency, the model's, and what the safeguarding category
    implies (a threat to kill is life-threatening)."""
    levels = taxonomy.urgency_levels
    candidates = [(rules.value or levels[-1], rules.confidence, rules.source, rules.evidence)]
    if signals.life_threatening >= 0.5:
        why = (f"model:{signals.life_threatening:.2f}",)
        candidates.append((levels[0], signals.life_threatening, source, why))
    elif signals.urgent >= 0.5:
        candidates.append((levels[1], signals.urgent, source, (f"model:{signals.urgent:.2f}",)))
    implied = taxonomy.urgency_from_sensitivity.get(sensitivity or "")
    if implied is not None:
        candidates.append((implied, 0.8, source, (f"sensitivity:{sensitivity}",)))
    value, confidence, src, evidence = min(candidates, key=lambda c: levels.index(c[0]))
    if value == levels[-1] and rules.value is None:
        confidence = round(1.0 - max(signals.urgent, signals.life_threatening), 3)
    return Decision(value, round(confidence, 3), src, tuple(evidence[:MAX_EVIDENCE]))


def feedback_type_with_signals(rules: Decision, signals: Signals, source: str) -> Decision:
    """The model's feedback type (it also sees the cue lexicons as features); the cues'
    evidence is kept when they agree."""
    evidence = rules.evidence if rules.value == signals.feedback_type else ()
    return Decision(
        signals.feedback_type,
        signals.feedback_confidence,
        source,
        (*evidence[: MAX_EVIDENCE - 1], f"model:{signals.feedback_confidence:.2f}"),
    )
