"""Sector model: train on a tiny set, evaluate, serialise, and promote only when better."""

from __future__ import annotations

import numpy as np
import pytest

from mcof_comms.pipeline import (
    Scores,
    SectorModel,
    Taxonomy,
    evaluate,
    should_promote,
    train_sector_model,
)
from mcof_comms.pipeline.model import _best_threshold

TRAIN = [
    ("we need water to drink", {"water_sanitation"}),
    ("the well is dry no water", {"water_sanitation"}),
    ("nou bezwen dlo pou nou bwe", {"water_sanitation"}),
    ("we are hungry no food", {"food"}),
    ("nou grangou pa gen manje", {"food"}),
    ("need rice and beans for the children", {"food"}),
    ("our house collapsed we need a tent", {"shelter_nfi"}),
    ("kay la kraze nou bezwen prela", {"shelter_nfi"}),
    ("no tarpaulin, we sleep outside in the rain", {"shelter_nfi"}),
    ("hungry and thirsty, need food and water", {"food", "water_sanitation"}),
    ("good morning everyone", set()),
    ("when will the radio news start", set()),
] * 2
HELD_BACK = [
    ("please send water", {"water_sanitation"}),
    ("food please we are hungry", {"food"}),
    ("tent needed house destroyed", {"shelter_nfi"}),
    ("hello", set()),
]


@pytest.fixture(scope="module")
def model(taxonomy: Taxonomy) -> SectorModel:
    return train_sector_model(TRAIN, taxonomy=taxonomy, version="test-1")


def test_trained_model_learns_the_labels(model: SectorModel) -> None:
    assert set(model.labels) == {"food", "water_sanitation", "shelter_nfi"}
    scores = evaluate(model, HELD_BACK)
    assert scores.macro_f1 >= 0.8
    assert scores.n == len(HELD_BACK)
    assert set(scores.per_label) == {"food", "water_sanitation", "shelter_nfi"}


def test_predict_returns_sector_matches_with_model_source(model: SectorModel) -> None:
    matches = model.predict("we need water")
    assert matches[0].slug == "water_sanitation"
    assert matches[0].source == "model:test-1"
    assert matches[0].confidence >= 0.5
    assert [m.confidence for m in matches] == sorted((m.confidence for m in matches), reverse=True)


def test_model_round_trips_through_bytes(model: SectorModel) -> None:
    data = model.to_bytes()
    loaded = SectorModel.from_bytes(data)
    assert loaded.version == "test-1"
    assert loaded.predict("nou bezwen manje") == model.predict("nou bezwen manje")


def test_foreign_bytes_are_rejected() -> None:
    with pytest.raises(ValueError, match="bad header"):
        SectorModel.from_bytes(b"\x80\x04not a model")


def test_training_is_deterministic(taxonomy: Taxonomy, model: SectorModel) -> None:
    again = train_sector_model(TRAIN, taxonomy=taxonomy, version="test-1")
    assert again.predict("water and food") == model.predict("water and food")


def test_training_rejects_unknown_labels(taxonomy: Taxonomy) -> None:
    with pytest.raises(ValueError, match="unknown label"):
        train_sector_model(
            [("x", {"nope"})] * 5 + [("y", set())], taxonomy=taxonomy, labels=["nope"]
        )


def _scores(food: float, water: float, n: int = 10) -> Scores:
    per_label = {"food": food, "water_sanitation": water}
    mean = (food + water) / 2
    return Scores(per_label, mean, mean, mean, n)


def test_promote_only_when_strictly_better() -> None:
    assert should_promote(_scores(0.8, 0.8), None)
    assert should_promote(_scores(0.82, 0.8), _scores(0.8, 0.8))
    assert not should_promote(_scores(0.8, 0.8), _scores(0.8, 0.8))
    assert not should_promote(_scores(0.7, 0.8), _scores(0.8, 0.8))


def test_promotion_refuses_a_collapsed_label() -> None:
    assert not should_promote(_scores(0.99, 0.70), _scores(0.80, 0.80))


def test_promotion_needs_the_same_example_set() -> None:
    with pytest.raises(ValueError, match="different example sets"):
        should_promote(_scores(0.9, 0.9, n=10), _scores(0.8, 0.8, n=11))


def test_one_text_fast_path_matches_the_batch_path(model: SectorModel) -> None:
    texts = ["we need water and food", "Tanpri nou bezwen dlo", "", "tent tent house destroyed"]
    batch = model.predict_proba([*texts, "padding so the batch path is used"])[: len(texts)]
    conf = model.confidences([*texts, "padding so the batch path is used"])[: len(texts)]
    for i, text in enumerate(texts):
        assert np.allclose(model.predict_proba([text])[0], batch[i], atol=1e-6)
        assert np.allclose(model.confidences([text])[0], conf[i], atol=1e-6)


def test_thresholds_never_flood_a_noisy_label() -> None:
    rng = np.random.default_rng(0)
    truth = rng.random(400) < 0.1
    noise = rng.random(400)  # a label the model cannot predict at all
    assert _best_threshold(noise, truth) >= 0.3
    assert (noise >= _best_threshold(noise, truth)).sum() <= 2 * truth.sum()


def test_labels_without_negatives_are_left_to_the_lexicon(taxonomy: Taxonomy) -> None:
    examples = [
        ("need water and food", {"food", "water_sanitation"}),
        ("food please", {"food"}),
    ] * 4
    model = train_sector_model(examples, taxonomy=taxonomy)
    assert model.labels == ("water_sanitation",)
