"""Rule-based decisions: sectors from lexicons, safeguarding, urgency and feedback type."""

from __future__ import annotations

import pytest

from mcof_comms.pipeline import (
    Taxonomy,
    classify_feedback_type,
    classify_sectors_lexicon,
    classify_urgency,
    detect_sensitivity,
)


def assigned(text: str, taxonomy: Taxonomy) -> set[str]:
    return {
        s.slug for s in classify_sectors_lexicon(text, taxonomy=taxonomy) if s.confidence >= 0.5
    }


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("we need clean drinking water", "water_sanitation"),
        ("tanpri nou bezwen dlo", "water_sanitation"),
        ("nous n avons pas d'eau potable", "water_sanitation"),
        ("نحتاج الى مياه الشرب", "water_sanitation"),
        ("hatuna maji safi", "water_sanitation"),
        ("нам потрібна питна вода", "water_sanitation"),
        ("nou grangou anpil pa gen manje", "food"),
        ("no tenemos comida", "food"),
        ("precisamos de comida", "food"),
        ("нет еды уже три дня", "food"),
        ("waxaan u baahanahay cunto", "food"),
        ("kay mwen kraze mwen bezwen yon tant", "shelter_nfi"),
        ("our house was destroyed we need tarpaulins", "shelter_nfi"),
        ("نحتاج خيمة و بطانيات", "shelter_nfi"),
        ("pitit mwen malad li bezwen medikaman", "health"),
        ("mi hijo esta herido necesita un medico", "health"),
        ("mgonjwa anahitaji dawa hospitali", "health"),
        ("ребенок болен нужен врач", "health"),
        ("আমার মা অসুস্থ ওষুধ দরকার", "health"),
        ("j ai perdu mon passeport, où est l'ambassade", "consular"),
        ("moun anba dekonb yo toujou vivan", "search_rescue"),
        ("mwen pa gen nouvel manman m depi tranbleman an", "family_tracing"),
    ],
)
def test_lexicon_finds_sector_in_many_languages(taxonomy: Taxonomy, text: str, slug: str) -> None:
    assert slug in assigned(text, taxonomy)


def test_lexicon_sources_carry_the_taxonomy_version(taxonomy: Taxonomy) -> None:
    matches = classify_sectors_lexicon("we need water", taxonomy=taxonomy)
    assert matches[0].source == f"lexicon:{taxonomy.version}"


def test_off_topic_message_gets_no_sector(taxonomy: Taxonomy) -> None:
    assert assigned("hello how are you my friend", taxonomy) == set()


def test_more_keywords_give_more_confidence(taxonomy: Taxonomy) -> None:
    one = classify_sectors_lexicon("water", taxonomy=taxonomy)[0].confidence
    two = classify_sectors_lexicon("water, soap and latrines", taxonomy=taxonomy)[0].confidence
    assert two > one


# --- safeguarding --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "category"),
    [
        (
            "he said I get my card faster if I come to his tent at night",
            "sexual_exploitation_abuse",
        ),
        (
            "the distribution officer wants me to sleep with him for the food",
            "sexual_exploitation_abuse",
        ),
        ("li di m ap jwenn kat la pi vit si m vin lakay li aswe a", "sexual_exploitation_abuse"),
        (
            "le responsable dit que j aurai ma carte si je viens chez lui la nuit",
            "sexual_exploitation_abuse",
        ),
        ("el encargado me pidió sexo a cambio de la tarjeta", "sexual_exploitation_abuse"),
        ("مسؤول التوزيع طلب مني ان انام معه مقابل المساعدات", "sexual_exploitation_abuse"),
        (
            "the volunteer said if I want the tarp I must be his girlfriend",
            "sexual_exploitation_abuse",
        ),
        (
            "le chef du comité veut que je sois sa copine pour avoir la carte",
            "sexual_exploitation_abuse",
        ),
        ("moun komite a di si m pa kouche avè l mwen p ap jwenn kat", "sexual_exploitation_abuse"),
        (
            "el del registro me dijo que fuera a su casa de noche y me daba la tarjeta",
            "sexual_exploitation_abuse",
        ),
        ("قال لي تعالي الى بيته في الليل لاعطيك البطاقة", "sexual_exploitation_abuse"),
        (
            "afisa wa usajili aliniambia nije kwake usiku ili nipate kadi",
            "sexual_exploitation_abuse",
        ),
        (
            "сотрудник сказал приходи ночью к нему и получишь паек быстрее",
            "sexual_exploitation_abuse",
        ),
        ("the man from the NGO asked us to pay 500 gourdes for the card", "fraud_corruption"),
        ("komite a mande nou peye 500 goud pou kat la", "fraud_corruption"),
        ("они требуют деньги за регистрацию на помощь", "fraud_corruption"),
        ("they took my passport and force me to work without pay", "trafficking"),
        ("my husband beats me every night", "gbv"),
        ("yo fè kadejak sou yon fi nan kan an", "gbv"),
        ("there is a child alone near the water point, no parents", "child_protection"),
        ("gang yo vle touye m paske mwen pale", "threat_to_life"),
        ("sometimes I think I will kill myself", "threat_to_life"),
        ("ils veulent nous tuer parce que nous avons parlé", "threat_to_life"),
        ("they came to my tent and said they will kill me", "threat_to_life"),
    ],
)
def test_sensitivity_catches_direct_and_euphemistic_reports(
    taxonomy: Taxonomy, text: str, category: str
) -> None:
    decision = detect_sensitivity(text, taxonomy=taxonomy)
    assert decision.value == category
    assert decision.evidence
    assert all(len(e) < 60 for e in decision.evidence)  # rule ids / keywords, never the message


@pytest.mark.parametrize(
    "text",
    [
        "traffic jam at the border",
        "the fighting will stop?",
        "gwo blokis sou wout fwontye a",
        "embouteillage à la frontière depuis ce matin",
        "I have no money to buy food",
        "the distribution is at night?",
        "thank you for the tent, my children sleep better at night",
        "we need a card to charge the phone",
        "trafik la bloke nan fwontye a",
        "atasco en la frontera",
        "пробка на границе",
        "the soldiers are fighting near the camp",
        "we are waiting for the distribution tonight?",
        "the committee leader keeps the list of families",
        "nou grangou, grangou ap touye nou",
        "hunger is killing us, we have nothing",
    ],
)
def test_sensitivity_ignores_innocent_near_misses(taxonomy: Taxonomy, text: str) -> None:
    assert detect_sensitivity(text, taxonomy=taxonomy).value is None


# --- urgency -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "people trapped under the rubble in Delmas, we hear them",
        "gen moun anba dekonb lekol la ki toujou vivan",
        "ma femme est en train d accoucher et elle saigne beaucoup",
        "my son is not breathing please send ambulance",
        "he is bleeding a lot after the gunshot",
        "مريض فاقد الوعي ولا يتنفس",
        "под завалами люди, они живы",
    ],
)
def test_life_threatening_urgency(taxonomy: Taxonomy, text: str) -> None:
    assert classify_urgency(text, taxonomy=taxonomy).value == "life_threatening"


def test_hunger_hyperbole_is_urgent_not_life_threatening(taxonomy: Taxonomy) -> None:
    decision = classify_urgency("nou grangou nap mouri", taxonomy=taxonomy)
    assert decision.value == "urgent"
    assert "rule:urgency.dying_of_hunger" in decision.evidence


def test_plain_question_is_normal_urgency(taxonomy: Taxonomy) -> None:
    assert classify_urgency("when is the next distribution?", taxonomy=taxonomy).value == "normal"


def test_threat_to_life_raises_urgency(taxonomy: Taxonomy) -> None:
    decision = classify_urgency(
        "they said they will kill me", taxonomy=taxonomy, sensitivity="threat_to_life"
    )
    assert decision.value == "life_threatening"


# --- feedback type -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("when is the next food distribution?", "question"),
        ("kile distribisyon an ap fet", "question"),
        ("please we need tents", "request"),
        ("tanpri nou bezwen dlo", "request"),
        ("nobody came to our camp, we were forgotten", "complaint"),
        ("yo bliye nou, pa janm resevwa anyen", "complaint"),
        ("they say the water is poisoned, is it true?", "rumour"),
        ("yo di pral gen yon lot tranbleman", "rumour"),
        ("it would be better to distribute in the morning", "suggestion"),
        ("thank you so much for the help", "appreciation"),
        ("mesi anpil pou ed la", "appreciation"),
        ("شكرا لكم على المساعدة", "appreciation"),
        ("mwen ta renmen jwenn yon kat mesi", "request"),  # thanks closing a request
        ("je voudrais une tente merci", "request"),
        ("je suis a Delmas", "other"),  # French "je" is not the Swahili question particle
        ("nou kote legliz la", "other"),  # Creole "kote" alone is "beside", not a question
        ("hello", "other"),
    ],
)
def test_feedback_type(taxonomy: Taxonomy, text: str, kind: str) -> None:
    decision = classify_feedback_type(text, taxonomy=taxonomy)
    assert decision.value == kind
    if kind != "other":
        assert decision.evidence
