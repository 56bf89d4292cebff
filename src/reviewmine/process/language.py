"""Offline language detection: an English stop-word rule for ASCII texts, py3langid otherwise.

py3langid ships its model inside the package (no download). It is unreliable on
texts of one to three words ("good app" scores 0.2 for English), and costs ~70 us per
text, so a rule decides first:

* no letters at all (emoji, digits, punctuation) -> no language (null), confidence 0;
* ASCII text of 1-3 words with at least one English marker word (stop words and common
  review words such as "good", "love", "awesome") -> ``en``;
* ASCII text of 4+ words in which at least 2 distinct English stop words make up at
  least 20 % of the words -> ``en``;
* ASCII text of up to 8 words made of common English words (VADER's English lexicon, the
  marker words and everyday words such as "app", "ever", "is"; one unknown word allowed from
  4 words on, e.g. an app's name) with at least one lexicon or marker word -> ``en``: short
  praise such as "Best meditation app ever", "ok" or "Super" is English, not Latin or nothing;
  (the rules' confidence is ``0.5 + share of English marker words``, capped at 0.99);
* anything else -> py3langid restricted to ISO 639-1 codes, on the first
  400 characters, with its normalised probability as confidence; then
  - ASCII text of 1-3 words on which py3langid is unsure (top probability < 0.2): ``en``
    when py3langid gives English at least a quarter of the top language's probability
    ("Overpriced", "Scam mediator."), otherwise no language (null) rather than a guess
    ("scam alert" would otherwise be Latin);
  - any text with a top probability below 0.05 -> no language (null).

The rule runs vectorised over a whole batch (Arrow string kernels); py3langid runs only on
the texts the rule leaves open, and its results are cached by text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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
# Everyday words that carry no sentiment and are not distinctive alone (several are words in
# other languages too), so they count as English only beside a lexicon or marker word.
ENGLISH_COMMON_WORDS = frozenset(
    """a an in on at as by is no so me us do did does done go going went app apps ever use
    use used using time times day days one two first new now still every thing way most even
    well back over make made people want need know think say feel felt try tried keep kept
    since while where why yes yet ago again always never day night week month year years
    morning minutes daily version phone account music voice sounds program features feature""".split()
)
_MARKER_ARRAY = pa.array(sorted(ENGLISH_STOPWORDS | ENGLISH_REVIEW_WORDS))
_STOP_ARRAY = pa.array(sorted(ENGLISH_STOPWORDS))
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
MAX_COMMON_WORDS = 8
# The ISO 639-1 codes py3langid's model knows, i.e. every language ``detect`` can give
# (written out so checking an option does not load the model; a test keeps them in step).
LANGUAGES = frozenset(
    """af am an ar as az ba be bg bn br bs ca cs cy da de dz el en eo es et eu fa fi fo fr fy
    ga gd gl gu ha he hi hr ht hu hy id ig is it ja jv ka kk km kn ko ku ky la lb lg ln lo
    lt lv mg mk ml mn mr ms mt my ne nl nn no oc om or pa pl ps pt qu ro ru rw sa se si sk
    sl sn so sq sr st sv sw ta te tg th tk tl tr tt ug uk ur uz vi vo wa xh yo zh zu""".split()
)
MAX_DETECT_CHARS = 400
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
    _vocabulary: tuple | None = field(default=None, init=False, repr=False)

    def _english_vocabulary(self) -> tuple[pa.Array, pa.Array]:
        """(every known English word, the words that can decide alone)."""
        if self._vocabulary is None:
            decisive = ENGLISH_STOPWORDS | ENGLISH_REVIEW_WORDS | vader_words()
            self._vocabulary = (pa.array(sorted(decisive | ENGLISH_COMMON_WORDS)), pa.array(sorted(decisive)))
        return self._vocabulary

    def _langid(self):
        if self._identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            # the model also knows ISO 639-3 codes and "zxx"; keep ISO 639-1 only
            identifier.set_languages([code for code in identifier.labels if len(code) == 2])
            self._identifier = identifier
        return self._identifier

    def detect_one(self, text: str | None) -> tuple[str | None, float, str]:
        """Language, confidence and method for one text."""
        codes, confidences, methods = self.detect([text])
        return codes[0], confidences[0], methods[0]

    def detect(
        self, texts: Sequence[str | None] | pa.Array
    ) -> tuple[list[str | None], list[float], list[str]]:
        """Languages of many texts: the English rule runs vectorised (Arrow), py3langid
        only on the texts the rule leaves open, once per distinct text."""
        values = texts if isinstance(texts, pa.Array) else pa.array(list(texts), pa.string())
        values = pc.fill_null(values.cast(pa.string()), "")
        # each distinct text once (reviews repeat: "Great app", copies, re-sightings)
        encoded = values.dictionary_encode()
        positions = encoded.indices.to_numpy(zero_copy_only=False)
        codes, confidences, methods = self._detect_distinct(encoded.dictionary)
        codes_array = np.array(codes, dtype=object)
        return (
            codes_array[positions].tolist(),
            np.asarray(confidences)[positions].tolist(),
            np.asarray(methods, dtype=object)[positions].tolist(),
        )

    def _detect_distinct(
        self, values: pa.Array
    ) -> tuple[list[str | None], list[float], list[str]]:
        n = len(values)
        codes: list[str | None] = [None] * n
        confidences = np.zeros(n, dtype=np.float64)
        methods = np.full(n, "none", dtype=object)

        has_letter = _mask(pc.match_substring_regex(values, r"\p{L}"))
        ascii_text = _mask(pc.string_is_ascii(values)) & has_letter
        head = pc.utf8_slice_codeunits(pc.utf8_lower(values), 0, 400)
        spaced = pc.replace_substring_regex(head, r"[^a-z']+", " ")
        spaced = pc.replace_substring_regex(spaced, r"(^| )'+|'+( |$)", r"\1\2")
        words = pc.split_pattern(pc.utf8_trim_whitespace(spaced), " ")
        flat = pc.list_flatten(words)
        rows = pc.list_parent_indices(words).to_numpy()
        real = _mask(pc.not_equal(flat, ""))
        marker = _mask(pc.is_in(flat, value_set=_MARKER_ARRAY)) & real
        stop = _mask(pc.is_in(flat, value_set=_STOP_ARRAY)) & real
        n_words = np.bincount(rows, weights=real, minlength=n)
        n_marker = np.bincount(rows, weights=marker, minlength=n)
        n_stop = np.bincount(rows, weights=stop, minlength=n)
        n_distinct_stop = distinct_per_row(rows[stop], flat.filter(pa.array(stop)), n)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n_words > 0, n_marker / np.maximum(n_words, 1), 0.0)
            stop_share = np.where(n_words > 0, n_stop / np.maximum(n_words, 1), 0.0)
        short_rule = ascii_text & (n_words >= 1) & (n_words <= 3) & (n_marker > 0)
        long_rule = ascii_text & (n_words > 3) & (stop_share >= 0.2) & (n_distinct_stop >= 2)
        known_words, decisive_words = self._english_vocabulary()
        n_known = np.bincount(rows, weights=_mask(pc.is_in(flat, value_set=known_words)) & real, minlength=n)
        n_decisive = np.bincount(rows, weights=_mask(pc.is_in(flat, value_set=decisive_words)) & real, minlength=n)
        common_rule = (
            ascii_text & ~short_rule & ~long_rule & (n_words >= 1) & (n_words <= MAX_COMMON_WORDS)
            & (n_decisive > 0) & (n_known >= n_words - (n_words >= 4))
        )
        for mask, confidence in (
            (short_rule, np.minimum(0.99, 0.5 + share / 2)),
            (long_rule, np.minimum(0.99, 0.5 + share)),
            (common_rule, np.minimum(0.99, 0.5 + n_known / np.maximum(n_words, 1) / 2)),
        ):
            confidences[mask] = np.round(confidence[mask], 4)
            methods[mask] = "rule"
            for i in np.flatnonzero(mask):
                codes[i] = "en"

        open_rows = np.flatnonzero(has_letter & ~short_rule & ~long_rule & ~common_rule)
        if len(open_rows):
            short_ascii = ascii_text & (n_words >= 1) & (n_words <= 3)
            pending = values.take(pa.array(open_rows)).to_pylist()
            for i, text in zip(open_rows.tolist(), pending, strict=True):
                key = (text, bool(short_ascii[i]))
                found = self._cache.get(key)
                if found is None:
                    found = self._short(text) if short_ascii[i] else self._classify(text)
                    if len(self._cache) >= self.cache_size:
                        self._cache.clear()
                    self._cache[key] = found
                codes[i], confidences[i], methods[i] = found
        return codes, confidences.tolist(), methods.tolist()

    def _classify(self, text: str) -> tuple[str | None, float, str]:
        code, confidence = self._langid().classify(text[:MAX_DETECT_CHARS])
        if confidence < MIN_CONFIDENCE:
            return None, round(float(confidence), 4), "langid"
        return code, round(float(confidence), 4), "langid"

    def _short(self, text: str) -> tuple[str | None, float, str]:
        """1-3 ASCII words without an English marker word."""
        ranked = self._langid().rank(text)
        top_code, top = ranked[0]
        if top >= SHORT_UNSURE:
            return top_code, round(float(top), 4), "langid"
        if max(len(w) for w in _WORD.findall(text.lower())) < 3:
            return None, round(float(top), 4), "langid"
        english = dict(ranked).get("en", 0.0)
        if english >= SHORT_ENGLISH_RATIO * top:
            return "en", round(english / (english + top), 4), "rule"
        return None, round(float(top), 4), "langid"


@lru_cache(maxsize=1)
def vader_words() -> frozenset[str]:
    """The single-word entries of VADER's English lexicon (shipped inside vaderSentiment)."""
    from importlib.resources import files

    lexicon = files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    words = (line.split("\t", 1)[0] for line in lexicon.splitlines())
    return frozenset(w for w in words if _WORD.fullmatch(w))


def distinct_per_row(rows: np.ndarray, words: pa.Array, n: int) -> np.ndarray:
    """Number of distinct words per row, from flattened words and their row numbers."""
    if len(words) == 0:
        return np.zeros(n, dtype=np.int64)
    encoded = words.dictionary_encode()
    width = len(encoded.dictionary) + 1
    pairs = np.sort(rows.astype(np.int64) * width + encoded.indices.to_numpy(zero_copy_only=False))
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:] != pairs[:-1]  # sort + diff: much faster than np.unique here
    return np.bincount(pairs[first] // width, minlength=n)


def _mask(values: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)
