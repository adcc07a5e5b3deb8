"""SMS segment counting at every boundary Twilio's docs and our verification name."""

from __future__ import annotations

import pytest

from mcof_comms.outbound.segments import Encoding, count_segments, is_gsm7


@pytest.mark.parametrize(
    ("body", "encoding", "units", "segments"),
    [
        ("", Encoding.GSM7, 0, 0),
        ("a" * 160, Encoding.GSM7, 160, 1),
        ("a" * 161, Encoding.GSM7, 161, 2),
        ("a" * 306, Encoding.GSM7, 306, 2),
        ("a" * 307, Encoding.GSM7, 307, 3),
        ("a" * 1600, Encoding.GSM7, 1600, 11),
        ("€" * 80, Encoding.GSM7, 160, 1),
        ("€" * 81, Encoding.GSM7, 162, 2),
        ("á" * 70, Encoding.UCS2, 70, 1),
        ("á" * 71, Encoding.UCS2, 71, 2),
        ("á" * 134, Encoding.UCS2, 134, 2),
        ("á" * 135, Encoding.UCS2, 135, 3),
        ("😀" * 35, Encoding.UCS2, 70, 1),
        ("😀" * 36, Encoding.UCS2, 72, 2),
    ],
)
def test_boundaries(body: str, encoding: Encoding, units: int, segments: int) -> None:
    result = count_segments(body)
    assert (result.encoding, result.units, result.segments) == (encoding, units, segments)


def test_extension_characters_cost_two_septets() -> None:
    assert count_segments("{}[]~|^\\€").units == 18
    assert count_segments("a" * 158 + "[").segments == 1  # 160 septets
    assert count_segments("a" * 159 + "[").segments == 2  # 161 septets


def test_escape_pair_is_never_split_across_parts() -> None:
    # 152 septets, then an escape pair that would straddle the 153 boundary: moves whole
    body = "a" * 152 + "€" + "a" * 152
    result = count_segments(body)
    assert result.units == 306
    assert result.segments == 3  # a plain ceil(306 / 153) would say 2


def test_surrogate_pair_is_never_split_across_parts() -> None:
    body = "á" * 66 + "😀" + "á" * 66
    result = count_segments(body)
    assert result.units == 134
    assert result.segments == 3


def test_spanish_acute_accent_switches_to_ucs2_but_enye_does_not() -> None:
    assert count_segments("Año nuevo, señal mañana").encoding is Encoding.GSM7
    assert count_segments("Información útil").encoding is Encoding.UCS2
    text = "La distribución de agua será mañana a las 9 en la plaza."
    result = count_segments(text)
    assert result.encoding is Encoding.UCS2
    assert result.units == len(text)
    assert result.segments == 1


def test_one_non_gsm_character_makes_the_whole_message_ucs2() -> None:
    body = "a" * 100 + "ó"
    assert count_segments(body).encoding is Encoding.UCS2
    assert count_segments(body).segments == 2  # 101 units > 70
    assert count_segments("a" * 101).segments == 1


def test_arabic_is_ucs2() -> None:
    body = "سيتم توزيع المياه غدا في الساحة الرئيسية"
    result = count_segments(body)
    assert result.encoding is Encoding.UCS2
    assert result.units == len(body)
    assert result.segments == 1
    assert count_segments("م" * 71).segments == 2


def test_emoji_count_two_units_and_force_ucs2() -> None:
    result = count_segments("OK 👍")
    assert result == count_segments("OK 👍")
    assert (result.encoding, result.units) == (Encoding.UCS2, 5)


def test_gsm7_basic_specials() -> None:
    assert is_gsm7("@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r")
    assert not is_gsm7("`")  # backtick is not in GSM-7
    assert not is_gsm7("ç")  # only capital Ç is
