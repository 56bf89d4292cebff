"""Offline language detection: an English stop-word rule for ASCII texts, py3langid otherwise.

py3langid ships its model inside the package (no download). It is unreliable on
texts of one to three words ("good app" scores 0.2 for English), and costs ~70 us per
text, so a rule decides first:

* no letters at all (emoji, digits, punctuation) -> no language (null), confidence 0;
* ASCII text of 1-3 words with at least one English marker word (stop words and common
  review words such as "good", "love", "awesome") -> ``en``;
* ASCII text of 4+ words in which at least 2 distinct English stop words make up at
  least 20 % of the words -> ``en``;
  (the rule's confidence is ``0.5 + share of English marker words``, capped at 0.99);
* anything else -> py3langid restricted to ISO 639-1 codes, on the first 1,000
  characters, with its normalised probability as confidence; then
  - ASCII text of 1-3 words on which py3langid is unsure (top probability < 0.2): ``en``
    when py3langid gives English at least a quarter of the top language's probability
    ("Overpriced", "Scam mediator."), otherwise no language (null) rather than a guess
    ("scam alert" would otherwise be Latin);
  - any text with a top probability below 0.05 -> no language (null).

Results are cached by text, so repeated texts cost one lookup.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

# Frequent English function words that are rare as words in other languages written in
# Latin script (so no "a", "no", "me", "de", "in", "is", "so", "was", "die", "an").
ENGLISH_STOPWORDS = frozenset(
    """the and it this that with for you your my i i'm it's is are was were but not have has
    had very of to just they their them we our can can't don't doesn't didn't won't be been
    would could should will what when which who how there here about from all really only
    also because if or more much some any after before get got out up off too than then
    its im dont cant didnt doesnt wont ive i've these those been being""".split()
)
ENGLISH_REVIEW_WORDS = frozenset(
    """good great nice love loved loving awesome amazing best excellent helpful useful bad worst
    perfect thanks thank wonderful cool fine relaxing calming helps helped works working
    like recommend terrible awful useless beautiful easy lovely fantastic poor waste money
    free paid pay subscription crash crashes crashing needs update worth life changing
    application sleep stories meditation anxiety stress okay""".split()
)
_MARKERS = ENGLISH_STOPWORDS | ENGLISH_REVIEW_WORDS
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_LETTER = re.compile(r"[^\W\d_]")
MAX_DETECT_CHARS = 1000
SHORT_UNSURE = 0.2
SHORT_ENGLISH_RATIO = 0.25
MIN_CONFIDENCE = 0.05


@dataclass
class LanguageDetector:
    """Detect the language of many texts; ``detect`` returns codes, confidences, methods.

    >>> codes, confidence, method = LanguageDetector().detect(["good app", "sehr gut", "👍"])
    >>> codes, method
    (['en', 'de', None], ['rule', 'langid', 'none'])
    """

    cache_size: int = 200_000
    _cache: dict = field(default_factory=dict, init=False, repr=False)
    _identifier: object = field(default=None, init=False, repr=False)

    def _langid(self):
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            # the model also knows ISO 639-3 codes and "zxx"; keep ISO 639-1 only
            identifier.set_languages([code for code in identifier.labels if len(code) == 2])
            self._identifier = identifier
        return self._identifier

    def detect_one(self, text: str | None) -> tuple[str | None, float, str]:
        if not text:
            return None, 0.0, "none"
        found = self._cache.get(text)
        if found is not None:
            return found
        found = self._decide(text)
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[text] = found
        return found

    def _decide(self, text: str) -> tuple[str | None, float, str]:
        if not _LETTER.search(text):
            return None, 0.0, "none"
        if text.isascii():
            # the first 60 or so words decide; long texts cost no more than short ones
            words = _WORD.findall(text[:400].lower())
            if words:
                share = sum(map(_MARKERS.__contains__, words)) / len(words)
                if len(words) <= 3 and share:
                    return "en", round(min(0.99, 0.5 + share / 2), 4), "rule"
                stop_share = sum(map(ENGLISH_STOPWORDS.__contains__, words)) / len(words)
                if stop_share >= 0.2 and len(ENGLISH_STOPWORDS.intersection(words)) >= 2:
                    return "en", round(min(0.99, 0.5 + share), 4), "rule"
            if words and len(words) <= 3:
                ranked = self._langid().rank(text)
                top_code, top = ranked[0]
                if top < SHORT_UNSURE:
                    if max(len(w) for w in words) < 3:
                        return None, round(float(top), 4), "langid"
                    english = dict(ranked).get("en", 0.0)
                    if english >= SHORT_ENGLISH_RATIO * top:
                        return "en", round(english / (english + top), 4), "rule"
                    return None, round(float(top), 4), "langid"
                return top_code, round(float(top), 4), "langid"
        code, confidence = self._langid().classify(text[:MAX_DETECT_CHARS])
        if confidence < MIN_CONFIDENCE:
            return None, round(float(confidence), 4), "langid"
        return code, round(float(confidence), 4), "langid"

    def detect(
        self, texts: Sequence[str | None]
    ) -> tuple[list[str | None], list[float], list[str]]:
        codes, confidences, methods = [], [], []
        for text in texts:
            code, confidence, method = self.detect_one(text)
            codes.append(code)
            confidences.append(confidence)
            methods.append(method)
        return codes, confidences, methods
