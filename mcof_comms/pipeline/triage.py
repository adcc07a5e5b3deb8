"""Triage one inbound message: language, sectors, feedback type, urgency, sensitivity, review.

Pure: values in, values out. The caller loads the taxonomy (and optionally a promoted model)
once and passes them in; nothing here touches the database or the network.

Inactive sectors: ``active_sectors`` does not filter anything. A sector that is not active in
this deployment is still reported in ``sectors`` (routing sends it to referral), and is listed
under ``explanations["inactive_sectors"]`` so the coordinator sees why it went there.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from mcof_comms.pipeline.decisions import (
    Decision,
    Matched,
    SectorMatch,
    classify_feedback_type,
    classify_sectors_lexicon,
    classify_urgency,
    detect_sensitivity,
    feedback_type_with_signals,
    lexicon_evidence,
    match_text,
    sensitivity_with_signals,
    urgency_with_signals,
)
from mcof_comms.pipeline.language import SUPPORTED, LanguageGuess, detect_language
from mcof_comms.pipeline.model import SectorModel
from mcof_comms.pipeline.signals import SignalModel
from mcof_comms.pipeline.taxonomy import Taxonomy

MIN_REPORTED_CONFIDENCE = 0.2
DISAGREE_BELOW = 0.35  # calibrated model confidence that counts as a clear "no"


@dataclass(frozen=True)
class TriageResult:
    """Everything triage decided about one message.

    ``sectors`` holds sector and referral slugs (``taxonomy.is_referral`` tells which), best
    first, each with confidence >= 0.2; 0.5 and above means assigned. ``sensitivity`` is None
    when no safeguarding concern was found. ``sla_hours`` is the expected response time.
    """

    language: LanguageGuess
    sectors: tuple[SectorMatch, ...]
    feedback_type: Decision
    urgency: Decision
    sensitivity: Decision | None
    needs_review: bool
    review_reasons: tuple[str, ...]
    sla_hours: int
    explanations: dict[str, object]
    assign_threshold: float = 0.5

    @property
    def assigned_sectors(self) -> tuple[SectorMatch, ...]:
        """Sectors at or above the assignment threshold (``thresholds.sector``, 0.5)."""
        return tuple(s for s in self.sectors if s.confidence >= self.assign_threshold)

    @property
    def primary_sector(self) -> str | None:
        """Slug of the most confident assigned sector, if any."""
        assigned = self.assigned_sectors
        return assigned[0].slug if assigned else None


def _combine(
    matched: Matched,
    text: str,
    taxonomy: Taxonomy,
    model: SectorModel | None,
    *,
    either: bool = False,
) -> tuple[list[SectorMatch], list[str]]:
    """Sectors from the model where it was trained, the lexicon elsewhere; and the labels on
    which a strong lexicon signal (two or more keywords) met a model that says no.

    ``either``: the more confident of the two wins for every label. For the model trained on
    the shipped messages, which knows many sectors from few examples each: on real crisis
    SMS in their own language (Figure Eight's direct messages) the lexicons beat it on the
    core sectors, while it beats them on the sectors they hardly cover."""
    lexicon = classify_sectors_lexicon(text, taxonomy=taxonomy, matched=matched)
    if model is None:
        return [s for s in lexicon if s.confidence >= MIN_REPORTED_CONFIDENCE], []
    known = set(model.labels)
    predicted = model.predict(text, min_confidence=0.0)
    by_slug = {s.slug: s.confidence for s in predicted}
    strong = 1.0 - (1.0 - taxonomy.thresholds.lexicon_hit) ** 2
    disagree = [
        s.slug
        for s in lexicon
        if s.slug in known and s.confidence >= strong and by_slug[s.slug] < DISAGREE_BELOW
    ]
    if either:
        best = {s.slug: s for s in lexicon}
        for s in predicted:
            if s.slug not in best or s.confidence > best[s.slug].confidence:
                best[s.slug] = s
        combined = list(best.values())
        disagree = []
    else:
        combined = [s for s in lexicon if s.slug not in known]  # model has no data for these
        combined += predicted
    combined = [s for s in combined if s.confidence >= MIN_REPORTED_CONFIDENCE]
    combined.sort(key=lambda s: (-s.confidence, s.slug))
    return combined, disagree


def triage(
    text: str,
    *,
    taxonomy: Taxonomy,
    model: SectorModel | None = None,
    language_hint: str | None = None,
    active_sectors: Collection[str] | None = None,
    language_candidates: Collection[str] | None = None,
    signals: SignalModel | None = None,
) -> TriageResult:
    """Triage one message. ``language_hint`` (e.g. the contact's chosen language) wins over
    detection when it is a supported code; ``active_sectors`` None means all are active;
    ``language_candidates`` (e.g. a deployment's languages) restricts detection.

    ``signals`` (the safety model) joins the rules for safeguarding, urgency and feedback
    type, and its sector model stands in when no model trained on corrections is given.
    Without it, triage is the lexicons and rules alone (cold start)."""
    matched = match_text(text, taxonomy)
    if language_hint is not None and language_hint.split("-")[0].lower() in SUPPORTED:
        language = LanguageGuess(language_hint.split("-")[0].lower(), 1.0, "hint")
    else:
        candidates = None
        if language_candidates is not None:
            candidates = [c for c in language_candidates if c in SUPPORTED] or None
        language = detect_language(text, candidates=candidates)

    either = model is None and signals is not None
    if either:
        model = signals.sectors  # type: ignore[union-attr]
    sectors, disagree = _combine(matched, text, taxonomy, model, either=either)
    feedback = classify_feedback_type(text, taxonomy=taxonomy, matched=matched)
    sens = detect_sensitivity(text, taxonomy=taxonomy, matched=matched)
    if signals is not None:
        same = signals.taxonomy_version == taxonomy.version
        said = signals.predict(text, matched.hits if same else None)
        sens = sensitivity_with_signals(sens, said, signals.source)
        feedback = feedback_type_with_signals(feedback, said, signals.source)
        urgency = urgency_with_signals(
            classify_urgency(text, taxonomy=taxonomy, matched=matched),
            said,
            signals.source,
            sensitivity=sens.value,
            taxonomy=taxonomy,
        )
    else:
        urgency = classify_urgency(text, taxonomy=taxonomy, matched=matched, sensitivity=sens.value)
    sensitivity = sens if sens.value is not None else None

    thresholds = taxonomy.thresholds
    reasons: list[str] = []
    best = sectors[0].confidence if sectors else 0.0
    if best < thresholds.review:
        reasons.append("no_confident_sector")
    if language.confidence < thresholds.language and matched.tokens:
        reasons.append("uncertain_language")
    if feedback.value == "appreciation" and (urgency.value != "normal" or sensitivity is not None):
        reasons.append("conflicting_signals")
    if disagree:
        reasons.append("model_lexicon_disagree")
    assigned = [s for s in sectors if s.confidence >= thresholds.sector]
    if len(assigned) >= 2 and assigned[0].confidence - assigned[1].confidence < 0.05:
        # two sectors tie: still routed to the first, but worth a look
        reasons.append("ambiguous_sector")

    inactive = (
        [
            s.slug
            for s in assigned
            if s.slug not in active_sectors and not taxonomy.is_referral(s.slug)
        ]
        if active_sectors is not None
        else []
    )
    sla = taxonomy.sla_hours(
        feedback_type=feedback.value or "other",
        urgency=urgency.value or "normal",
        sensitive=sensitivity is not None,
    )
    explanations: dict[str, object] = {
        "taxonomy_version": taxonomy.version,
        "model_version": model.version if model is not None else None,
        "signals_version": signals.version if signals is not None else None,
        "language": {
            "code": language.code,
            "confidence": language.confidence,
            "method": language.method,
        },
        "sectors": [
            {
                "slug": s.slug,
                "confidence": s.confidence,
                "source": s.source,
                "referral": taxonomy.is_referral(s.slug),
                "keywords": lexicon_evidence(matched, s.slug, taxonomy),
            }
            for s in sectors
        ],
        "feedback_type": feedback.as_dict(),
        "urgency": urgency.as_dict(),
        "sensitivity": sens.as_dict(),
        "review_reasons": list(reasons),
        "model_lexicon_disagree": disagree,
        "inactive_sectors": inactive,
        "sla_hours": sla,
    }
    return TriageResult(
        language=language,
        sectors=tuple(sectors),
        feedback_type=feedback,
        urgency=urgency,
        sensitivity=sensitivity,
        needs_review=bool(reasons),
        review_reasons=tuple(reasons),
        sla_hours=sla,
        explanations=explanations,
        assign_threshold=thresholds.sector,
    )
