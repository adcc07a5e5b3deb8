"""triage() puts the pieces together into one storable result."""

from __future__ import annotations

import json

from mcof_comms.pipeline import Taxonomy, train_sector_model, triage


def test_triage_of_a_creole_request(taxonomy: Taxonomy) -> None:
    result = triage("tanpri nou bezwen dlo ak manje nan kan an", taxonomy=taxonomy)
    assert result.language.code == "ht"
    assert {"water_sanitation", "food"} <= {s.slug for s in result.assigned_sectors}
    assert result.feedback_type.value == "request"
    assert result.sensitivity is None
    assert not result.needs_review
    json.dumps(result.explanations)  # storable as JSON


def test_triage_flags_safeguarding_and_shortens_the_sla(taxonomy: Taxonomy) -> None:
    result = triage(
        "he said I get my card faster if I come to his tent at night", taxonomy=taxonomy
    )
    assert result.sensitivity is not None
    assert result.sensitivity.value == "sexual_exploitation_abuse"
    assert result.urgency.value == "urgent"
    assert result.sla_hours == 24
    assert "he said" not in json.dumps(result.explanations)  # evidence is rule ids, not text


def test_life_threatening_message_gets_one_hour(taxonomy: Taxonomy) -> None:
    result = triage("people trapped under the rubble, still alive", taxonomy=taxonomy)
    assert result.urgency.value == "life_threatening"
    assert result.sla_hours == 1
    assert result.primary_sector == "search_rescue"


def test_off_topic_message_needs_review(taxonomy: Taxonomy) -> None:
    result = triage("good evening", taxonomy=taxonomy)
    assert result.sectors == ()
    assert result.needs_review
    assert "no_confident_sector" in result.review_reasons


def test_language_hint_wins(taxonomy: Taxonomy) -> None:
    result = triage("ok", taxonomy=taxonomy, language_hint="fr-CD")
    assert result.language.code == "fr"
    assert result.language.method == "hint"


def test_inactive_sectors_are_reported_not_dropped(taxonomy: Taxonomy) -> None:
    result = triage(
        "my child is sick we need a doctor", taxonomy=taxonomy, active_sectors={"shelter_nfi"}
    )
    assert result.primary_sector == "health"
    assert result.explanations["inactive_sectors"] == ["health"]


def test_model_sectors_combine_with_lexicon_for_unknown_labels(taxonomy: Taxonomy) -> None:
    examples = [
        ("we need water", {"water_sanitation"}),
        ("no water here", {"water_sanitation"}),
        ("we are hungry", {"food"}),
        ("no food", {"food"}),
        ("hello", set()),
    ] * 3
    model = train_sector_model(examples, taxonomy=taxonomy, version="tiny")
    result = triage(
        "no water, and where is the embassy for my passport", taxonomy=taxonomy, model=model
    )
    sources = {s.slug: s.source for s in result.sectors}
    assert sources["water_sanitation"] == "model:tiny"
    assert sources["consular"] == f"lexicon:{taxonomy.version}"


def test_strong_keywords_against_the_model_ask_for_review(taxonomy: Taxonomy) -> None:
    examples = [
        ("we need water", {"water_sanitation"}),
        ("no water here", {"water_sanitation"}),
        ("hello friends", set()),
        ("good morning", set()),
    ] * 4
    model = train_sector_model(examples, taxonomy=taxonomy, version="tiny")
    # "latrines" and "soap" are strong WASH keywords the tiny model never saw
    result = triage("good morning, latrines and soap", taxonomy=taxonomy, model=model)
    assert "model_lexicon_disagree" in result.review_reasons
    assert result.explanations["model_lexicon_disagree"] == ["water_sanitation"]


def test_language_candidates_restrict_detection(taxonomy: Taxonomy) -> None:
    result = triage("tunahitaji maji", taxonomy=taxonomy, language_candidates=["ht", "fr", "en"])
    assert result.language.code in {"ht", "fr", "en"}
    assert triage("tunahitaji maji", taxonomy=taxonomy).language.code == "sw"
