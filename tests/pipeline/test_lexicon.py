"""Matching semantics of the lexicons, as documented at the top of config/taxonomy.yaml."""

from __future__ import annotations

import pytest

from mcof_comms.pipeline.lexicon import Matcher, normalize, parse_term, tokenize


def terms(matcher: Matcher, text: str) -> dict[str, list[str]]:
    hits = matcher.match(tokenize(normalize(text)))
    return {concept: [h.term for h in found] for concept, found in hits.items()}


def test_normalize_drops_accents_and_folds_arabic_letters() -> None:
    assert normalize("Médecin DOKTÈ") == "medecin dokte"
    assert normalize("أمّة") == "امه"
    assert normalize("ёлка їжа") == "елка іжа"
    assert normalize("می\u200cخواهم") == normalize("میخواهم")  # ZWNJ removed


def test_question_marks_become_tokens() -> None:
    assert tokenize("kile? ¿cuando؟") == ["kile", "?", "?", "cuando", "?"]


def test_bengali_words_stay_whole() -> None:
    assert tokenize("আমাদের পানি দরকার") == ["আমাদের", "পানি", "দরকার"]


def test_prefix_exact_and_phrase() -> None:
    m = Matcher({"c": [("medic*", 1.0), ("eau", 1.0), ("drinking water", 1.0)]})
    assert terms(m, "medikaman ak medicine") == {"c": ["medic*"]}  # one term counts once
    assert terms(m, "beau temps") == {}  # exact word, not a substring
    assert terms(m, "no drinking water") == {"c": ["drinking water"]}
    assert terms(m, "water for drinking") == {}  # phrase words must be consecutive


def test_apostrophes_split_like_the_text() -> None:
    m = Matcher({"c": [("l'eau", 1.0)]})
    assert parse_term("l'eau") == (("l", False), ("eau", False))
    assert terms(m, "pas de L’EAU") == {"c": ["l eau"]}


def test_arabic_clitics_are_stripped_once() -> None:
    m = Matcher({"c": [("مياه", 1.0), ("خيم*", 1.0)]})
    assert terms(m, "والمياه") == {"c": ["مياه"]}
    assert terms(m, "بالخيمة") == {"c": ["خيم*"]}


def test_one_token_span_is_one_piece_of_evidence() -> None:
    m = Matcher({"c": [("corrupt*", 1.0), ("corrup*", 1.0)]})
    assert len(terms(m, "corruption")["c"]) == 1


def test_weak_terms_keep_their_weight() -> None:
    m = Matcher({"c": [("help", 0.5)]})
    hits = m.match(["help"])
    assert hits["c"][0].weight == 0.5


def test_empty_term_is_rejected() -> None:
    with pytest.raises(ValueError, match="no word characters"):
        parse_term(" * !! ")
