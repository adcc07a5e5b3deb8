"""The taxonomy file loads, covers what triage needs, and bad edits fail with a clear place."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from mcof_comms.pipeline import DEFAULT_TAXONOMY_PATH, Taxonomy, TaxonomyError, load_taxonomy
from mcof_comms.pipeline.taxonomy import MCOF_SECTORS, REFERRALS, parse_taxonomy

REQUIRED_LANGUAGES = {"en", "fr", "ht", "es", "ar", "sw", "uk", "ru", "pt"}


@pytest.fixture
def raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_TAXONOMY_PATH.read_text(encoding="utf-8"))


def test_shipped_taxonomy_has_all_sectors_and_referrals(taxonomy: Taxonomy) -> None:
    assert tuple(taxonomy.sectors) == MCOF_SECTORS
    assert tuple(taxonomy.referrals) == REFERRALS
    assert taxonomy.referrals["food"].partner
    assert taxonomy.is_referral("family_tracing")
    assert not taxonomy.is_referral("health")
    assert taxonomy.version


@pytest.mark.parametrize("slug", MCOF_SECTORS + REFERRALS)
def test_every_label_has_lexicons_in_the_required_languages(taxonomy: Taxonomy, slug: str) -> None:
    languages = set(taxonomy.label(slug).lexicon.languages)
    assert languages >= REQUIRED_LANGUAGES, REQUIRED_LANGUAGES - languages


def test_sla_is_the_smallest_that_applies(taxonomy: Taxonomy) -> None:
    assert taxonomy.sla_hours(feedback_type="question", urgency="normal", sensitive=False) == 48
    assert (
        taxonomy.sla_hours(feedback_type="question", urgency="life_threatening", sensitive=False)
        == 1
    )
    assert taxonomy.sla_hours(feedback_type="appreciation", urgency="normal", sensitive=True) == 24


def test_unknown_language_is_reported_with_its_place(raw: dict[str, Any]) -> None:
    raw["sectors"]["health"]["keywords"]["xx"] = ["foo"]
    with pytest.raises(TaxonomyError, match=r"sectors\.health\.keywords\.xx: unknown language"):
        parse_taxonomy(raw)


def test_missing_sector_is_reported(raw: dict[str, Any]) -> None:
    del raw["sectors"]["consular"]
    with pytest.raises(TaxonomyError, match="consular"):
        parse_taxonomy(raw)


def test_short_prefix_is_rejected(raw: dict[str, Any]) -> None:
    raw["referrals"]["food"]["keywords"]["en"].append("fo*")
    with pytest.raises(TaxonomyError, match="shorter than 3"):
        parse_taxonomy(raw)


def test_rule_with_unknown_group_is_rejected(raw: dict[str, Any]) -> None:
    bad = copy.deepcopy(raw["rules"][0])
    bad["id"] = "broken"
    bad["all"] = ["cue.does_not_exist"]
    raw["rules"].append(bad)
    with pytest.raises(TaxonomyError, match=r"unknown group 'cue\.does_not_exist'"):
        parse_taxonomy(raw)


def test_referral_without_partner_is_rejected(raw: dict[str, Any]) -> None:
    del raw["referrals"]["cash"]["partner"]
    with pytest.raises(TaxonomyError, match="partner"):
        parse_taxonomy(raw)


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text("version: [unclosed\n", encoding="utf-8")
    with pytest.raises(TaxonomyError, match="not valid YAML"):
        load_taxonomy(path)


def test_decision_lexicons_cover_the_required_languages(taxonomy: Taxonomy) -> None:
    groups = [
        *(c for c in taxonomy.feedback_types.values() if c.slug != "other"),
        *(taxonomy.urgency[level] for level in ("life_threatening", "urgent")),
        *taxonomy.sensitivity.values(),
    ]
    for category in groups:
        missing = REQUIRED_LANGUAGES - set(category.lexicon.languages)
        assert not missing, (category.concept, missing)
    for name, lexicon in taxonomy.cues.items():
        assert not REQUIRED_LANGUAGES - set(lexicon.languages), name
