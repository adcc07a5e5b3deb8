"""Pure triage core: values in, values out (no Flask, no database, no network).

Public interface::

    taxonomy = load_taxonomy()                      # config/taxonomy.yaml, validated
    result = triage(text, taxonomy=taxonomy, model=None, language_hint=None, active_sectors=None)
    detect_language(text, candidates=None) -> LanguageGuess
    parse_language_choice("LANG fr") -> "fr"
    train_sector_model(examples, taxonomy=...) -> SectorModel; evaluate(); should_promote()

``services.py``, ``jobs.py`` and ``routing.py`` in this package belong to the app side and are
not imported here, so importing the triage core never pulls in Flask or SQLAlchemy.
"""

from __future__ import annotations

from mcof_comms.pipeline.decisions import (
    Decision,
    SectorMatch,
    classify_feedback_type,
    classify_sectors_lexicon,
    classify_urgency,
    detect_sensitivity,
)
from mcof_comms.pipeline.language import (
    SUPPORTED,
    LanguageGuess,
    detect_language,
    parse_language_choice,
)
from mcof_comms.pipeline.model import (
    Scores,
    SectorModel,
    evaluate,
    should_promote,
    train_sector_model,
)
from mcof_comms.pipeline.taxonomy import (
    DEFAULT_TAXONOMY_PATH,
    Taxonomy,
    TaxonomyError,
    load_taxonomy,
)
from mcof_comms.pipeline.triage import TriageResult, triage

__all__ = [
    "DEFAULT_TAXONOMY_PATH",
    "SUPPORTED",
    "Decision",
    "LanguageGuess",
    "Scores",
    "SectorMatch",
    "SectorModel",
    "Taxonomy",
    "TaxonomyError",
    "TriageResult",
    "classify_feedback_type",
    "classify_sectors_lexicon",
    "classify_urgency",
    "detect_language",
    "detect_sensitivity",
    "evaluate",
    "load_taxonomy",
    "parse_language_choice",
    "should_promote",
    "train_sector_model",
    "triage",
]
