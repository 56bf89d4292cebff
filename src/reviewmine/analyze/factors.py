"""Engagement-factor coding: codes, polarity and the evidence sentence for each review.

How a review is coded (every step leaves a trace in the output):

1. The title and text are split into sentences (``sentences.split_sentences``).
2. Each sentence is matched against the codebook's cue patterns and scored by the
   domain sentiment (``sentiment.DomainVader``).
3. A linear presence model (one head per code, hashed word n-grams plus one feature per
   cue hit, negation and other-app marks and a length bucket, trained on the project's
   hand-coded reviews) scores the review; a code is assigned when its probability passes a
   per-code threshold chosen by cross-validation on the training set. Without a trained
   model the cues alone decide. The codebook's rules then apply: a code's ``context`` must
   match (R5), a code named only in another sense ("a good reminder to breathe") is dropped
   (R7), and a review of at most three words keeps one cue-named code at most (R4).
4. The evidence sentence for a code is the sentence the presence model scores highest
   for it (cue hits break ties).
5. The polarity comes from that sentence: a polarity model over its words (conditioned
   on the code) plus its domain-sentiment score; the star rating is not used. Money praise
   is a facilitator (R1).
"""

from __future__ import annotations

import ctypes
import itertools
import json
import multiprocessing as mp
import os
import re
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import ahocorasick
import numpy as np

from reviewmine.analyze.codebook import (
    Codebook,
    cue_pattern,
    format_codes,
    has_repeat,
    load_codebook,
    parse_tree,
)
from reviewmine.analyze.sentiment import (
    DomainVader,
    SentimentResult,
    SentimentScorer,
    shipped_model_path,
)
from reviewmine.analyze.textmodel import LinearTextModel
from reviewmine.engine import available_cores
from reviewmine.errors import CodebookError, ReviewmineError

PRESENCE_MODEL = "coder_presence.npz"
POLARITY_MODEL = "coder_polarity.npz"
SENTENCE_MODEL = "coder_sentence.npz"
BATCH = 5000  # reviews per batch: coded together, and the unit handed to a worker
MAX_CHARS = 5000  # longer texts are coded on their first 5,000 characters (reported)
CUE_TIMEOUT = 1.0  # seconds a repeating cue may take on one text (real cues take microseconds)
_WORD = re.compile(r"[a-z']+")
# A negator and the (at most four) words of its clause it governs: "no bugs", "never crashed
# once", "don't have to pay". Marked so the models can tell a negated problem from a problem.
_NEGATION = re.compile(
    r"\b(?:no|not|never|without|nothing|zero|hardly|nor|cannot|(?:do|does|did|is|are|was|were|wo|ca|could|would|should|have|has|had|need)n'?t)\s+((?:[a-z']+\s+){0,3}[a-z']+)"
)
# Talk about other apps (R2): what such a sentence says is not about this app.
OTHER_APPS = re.compile(
    r"\b(?:other (?:[a-z]+ )?apps?|another app|unlike (?:other|most|many|some|the others)"
    r"|compared (?:to|with) (?:other|most|similar)|than (?:other|most|any|similar) (?:[a-z]+ )?apps?"
    r"|most (?:other )?apps|many apps|every other (?:[a-z]+ )?app|(?:all|most) the others)\b"
)  # run on lower-cased text: a case-insensitive search takes twice as long
# Words that make "free" a limit, a claim or a wish, not praise: "only the intro is free",
# "very few options are free", "says it is free", "even if it's free", "is anything free?"
_NOT_PRAISE = re.compile(
    r"\b(?:only|few|little|nothing|anything|single|if|even|says|said|claims?|advertised|wish|should|would|were)\b|\?",
    re.IGNORECASE,
)
# A negator right before a cue word: "no bugs", "never crashed", "not complicated" (R3).
_NEGATOR = re.compile(r"\b(?:no|not|never|zero|without)\s", re.IGNORECASE)
_NEGATED_WORD = re.compile(r"\b(?:no|not|never|zero|without)\s+$", re.IGNORECASE)
# Requests and conditionals ("if it would not crash") state no merit.
_REQUEST = re.compile(r"\b(?:if|would|wish|should|please|hope|need|needs)\b", re.IGNORECASE)
# An explicit contrast with this app in a review that talks about other apps (R2).
_CONTRAST = re.compile(r"\b(?:unlike|this one|whereas|but this|while this)\b", re.IGNORECASE)
CLEAR_TONE = 0.3  # domain-VADER tone a negated cue word needs ("pay" has -0.1: no clear tone)
SHORT_REVIEW = 3  # reviews of at most this many words get at most one code (R4)


@dataclass
class CodeHit:
    """One code on one review, with what it rests on."""

    code: str
    polarity: str
    probability: float
    evidence: str
    cues: list[str] = field(default_factory=list)
    sentence_sentiment: float = 0.0


@dataclass
class CodedReview:
    codes: list[CodeHit]
    sentiment: float
    n_sentences: int
    truncated: bool
    detail: SentimentResult | None = None

    @property
    def serialised(self) -> str:
        return format_codes({h.code: h.polarity for h in self.codes})


# Characters that re's IGNORECASE equates with ASCII letters while str.lower() does not
# (long s, Kelvin sign, dotless/dotted i, Angstrom sign): a text holding one skips the
# literal pre-filter, so the pre-filter can never hide a match.
_CASE_TRAPS = frozenset("\u017f\u212a\u0131\u0130\u212b")


class _CueTimeout(Exception):
    pass


_cue_started: float | None = None  # when the running TimedPattern call began (None: none runs)


def _check_cue_time(signum, frame) -> None:
    if _cue_started is not None and time.monotonic() - _cue_started > CUE_TIMEOUT:
        raise _CueTimeout


class TimedPattern:
    """A cue pattern that repeats (``+``, ``*``, ``{2,}``), run under ``CUE_TIMEOUT``.

    The codebook refuses nested repeats at load, but ``.*.*x`` is still polynomial: ~2 min on
    one 5,000-character review. A cue that runs too long stops the run with one line naming
    it. While ``CueMatcher.time_limit`` is active, a SIGALRM ticker checks the running call
    four times a second (``re`` handles signals while it backtracks), so a call costs one
    clock read. The ``regex`` package's ``timeout=`` would change how case-insensitive cues
    match some non-ASCII letters ("İstanbul" no longer matches "ISTANBUL") and is slower.
    Cues without repeats do bounded work per text position and need no limit.
    """

    __slots__ = ("_pattern", "_what")

    def __init__(self, source: str, flags: int, what: str):
        self._pattern = re.compile(source, flags)
        self._what = what

    def search(self, text: str) -> re.Match | None:
        return self._bounded(self._pattern.search, text)

    def finditer(self, text: str) -> list[re.Match]:
        return self._bounded(lambda t: list(self._pattern.finditer(t)), text)

    def _bounded(self, run: Callable, text: str):
        global _cue_started
        _cue_started = time.monotonic()
        try:
            return run(text)
        except _CueTimeout:
            raise CodebookError(
                f"{self._what} took over {CUE_TIMEOUT:g} s on one text of {len(text):,} "
                "characters; simplify it (fewer open-ended repeats such as .* or \\w+)"
            ) from None
        finally:
            _cue_started = None


def _compile_cues(codebook: Codebook, code: str, cues, flags: int):
    """``re`` for cues that cannot repeat, a ``TimedPattern`` for the rest."""
    source = cue_pattern(cues)
    risky = [cue for cue in cues if has_repeat(cue)]
    if not risky:
        return re.compile(source, flags)
    shown = ", ".join(repr(cue) for cue in risky)
    return TimedPattern(source, flags, f"codebook {codebook.name!r}: code '{code}': cue {shown}")


class CueMatcher:
    """Finds the codebook's cue patterns in sentences (case-insensitive, whole words: a cue
    never matches inside a longer word, and cues may start or end with "$" or ".").

    The patterns run on the original text with ``re.IGNORECASE``; to skip most of them,
    the literal strings every match of a cue must contain (``required_literals``) are
    looked up first in the lower-cased review, all in one Aho-Corasick pass, and a cue's
    regex runs only where one of its literals occurs. Cues without an ASCII literal always
    run. A code's full pattern then finds its words sentence by sentence.
    """

    def __init__(self, codebook: Codebook):
        self.patterns: dict[str, re.Pattern | TimedPattern] = {}
        self._cues: list[tuple[str, re.Pattern | TimedPattern]] = []
        self._always: list[int] = []  # cues without a usable literal
        by_literal: dict[str, set[int]] = {}
        for c in codebook.codes:
            if not c.cues:
                continue
            self.patterns[c.id] = _compile_cues(codebook, c.id, c.cues, re.IGNORECASE)
            for cue in c.cues:
                index = len(self._cues)
                # MULTILINE: the review is searched as its sentences joined by line breaks.
                self._cues.append((c.id, _compile_cues(codebook, c.id, [cue], re.IGNORECASE | re.MULTILINE)))
                literals = required_literals(cue_pattern([cue]))
                if not literals or not all(x.isascii() for x in literals):
                    self._always.append(index)
                    continue
                for literal in {x.lower() for x in literals}:
                    by_literal.setdefault(literal, set()).add(index)
        self._literal_finder = ahocorasick.Automaton()  # every literal, in one pass over the text
        for literal, cues in by_literal.items():
            self._literal_finder.add_word(literal, tuple(cues))
        if len(self._literal_finder):
            self._literal_finder.make_automaton()

    @contextmanager
    def time_limit(self) -> Iterator[None]:
        """Hold repeating cues to ``CUE_TIMEOUT`` while the body runs. Signals reach only the
        main thread, so elsewhere the time is not bounded (forked workers run in theirs)."""
        timed = any(isinstance(p, TimedPattern) for _, p in self._cues)
        if not timed or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGALRM, _check_cue_time)
        signal.setitimer(signal.ITIMER_REAL, 0.25, 0.25)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)

    def match(self, sentence: str) -> dict[str, list[str]]:
        """Cue hits of one sentence: ``{code: [matched words]}``."""
        return self.match_sentences([sentence])[0]

    def match_sentences(self, sentences: list[str]) -> list[dict[str, list[str]]]:
        """Cue hits per sentence; codes whose cues are nowhere in the review are skipped early."""
        joined = "\n".join(sentences)
        if len(self._literal_finder) and (joined.isascii() or _CASE_TRAPS.isdisjoint(joined)):
            candidates = set(self._always)
            for cues in {cues for _, cues in self._literal_finder.iter(joined.lower())}:
                candidates.update(cues)
        else:
            candidates = range(len(self._cues))
        codes: set[str] = set()
        for index in candidates:
            code, cue = self._cues[index]
            if code not in codes and cue.search(joined):
                codes.add(code)
        present = [(code, pattern) for code, pattern in self.patterns.items() if code in codes]
        result = []
        for sentence in sentences:
            hits = {}
            for code, pattern in present:
                found = [m.group(0).lower() for m in pattern.finditer(sentence)]
                if found:
                    hits[code] = found
            result.append(hits)
        return result


def required_literals(pattern: str) -> set[str] | None:
    """Strings of which every match of ``pattern`` contains at least one (``None``: no such
    set found). A cheap ``in`` test on them lets a review skip the regex entirely."""
    tree = parse_tree(pattern)
    if tree is None:
        return None
    import re._constants as C

    def required(seq) -> set[str] | None:
        candidates, run = [], []
        for op, av in seq:
            if op is C.LITERAL:
                run.append(chr(av))
                continue
            if run:
                candidates.append({"".join(run)})
                run = []
            found = None
            if op is C.SUBPATTERN:
                found = required(av[3])
            elif op is C.ATOMIC_GROUP:
                found = required(av)
            elif op is C.BRANCH:
                alternatives = [required(a) for a in av[1]]
                if all(alternatives):
                    found = set().union(*alternatives)
            elif op in (C.MAX_REPEAT, C.MIN_REPEAT, C.POSSESSIVE_REPEAT) and av[0] >= 1:
                found = required(av[2])
            if found:
                candidates.append(found)
        if run:
            candidates.append({"".join(run)})
        return max(candidates, key=lambda c: min(map(len, c)), default=None)

    return required(tree)


def about_other_apps(lower: str) -> bool:
    """Whether a lower-cased text talks about other apps (every match holds one of the words
    tested first, which most texts lack)."""
    return ("other" in lower or "app" in lower or "unlike" in lower or "compared" in lower) and bool(
        OTHER_APPS.search(lower)
    )


def text_marks(text: str) -> list[str]:
    """Pseudo-words for what word n-grams miss: ``neg_<word>`` for each word a negator governs,
    ``about_other_apps`` when the text talks about other apps."""
    lower = text.lower()
    marks = [f"neg_{w}" for scope in _NEGATION.findall(lower) for w in scope.split()]
    if about_other_apps(lower):
        marks.append("about_other_apps")
    return marks


def length_mark(text: str) -> str:
    """A pseudo-word for the length of a text in words (a bare verdict reads differently)."""
    n = len(text.split())
    return "len_short" if n <= SHORT_REVIEW else "len_mid" if n <= 12 else "len_long"


def presence_text(text: str, cue_hits: dict[str, list[str]]) -> str:
    """Review text plus one pseudo-word per code whose cues fired, the negation and other-app
    marks and the length bucket (features for the presence models)."""
    return " ".join([text, *(f"cue_{code}" for code in cue_hits), *text_marks(text), length_mark(text)])


def polarity_text(code: str, sentence: str, vader: float, review_sentiment: float) -> str:
    """Evidence-sentence words and marks, the same conditioned on the code, and sentiment
    buckets of the sentence (domain VADER) and of the whole review text (context, not stars)."""
    words = _WORD.findall(sentence.lower()) + text_marks(sentence)
    bucket = "vpos" if vader >= 0.3 else "vneg" if vader <= -0.3 else "vneu"
    context = "rpos" if review_sentiment >= 0.5 else "rneg" if review_sentiment <= -0.5 else "rneu"
    return " ".join(
        [*words, *(f"{code}_{w}" for w in words), bucket, f"{code}_{bucket}", context, f"{code}_{context}"]
    )


def full_texts(texts: Iterable, titles: Iterable) -> list[str]:
    """``title. text`` as both coding tiers read a review (non-strings read as empty)."""
    out = []
    for text, title in zip(texts, titles, strict=True):
        text = text if isinstance(text, str) else ""
        title = title if isinstance(title, str) else ""
        out.append(f"{title}. {text}" if title.strip() else text)
    return out


@dataclass
class ReviewReading:
    """``FactorCoder.read`` of a batch: per review its sentiment (with sentences), cue hits
    per sentence and the sentence model's probabilities (sentences x codes); the review
    model's probabilities (reviews x codes), None without the models."""

    sentiments: list
    cue_hits: list[list[dict[str, list[str]]]]
    review_p: np.ndarray | None
    sentence_p: list[np.ndarray]


class FactorCoder:
    """Code reviews with the engagement-factor codebook.

    >>> coder = FactorCoder()
    >>> coder.code_texts(["Crashes every time I open it"])[0].serialised
    'technical_issues:barrier'
    """

    def __init__(
        self,
        codebook: Codebook | None = None,
        model_dir: str | Path | None = None,
        use_model: bool = True,
        sentiment: SentimentScorer | None = None,
    ):
        self.codebook = codebook or load_codebook()
        self.cues = CueMatcher(self.codebook)
        self.context = {
            c.id: _compile_cues(self.codebook, c.id, c.context, re.IGNORECASE) for c in self.codebook.codes if c.context
        }
        self.praise = {
            c.id: _compile_cues(self.codebook, c.id, c.praise, re.IGNORECASE) for c in self.codebook.codes if c.praise
        }
        self.figurative = {
            c.id: (
                _compile_cues(self.codebook, c.id, c.figurative, re.IGNORECASE),
                _compile_cues(self.codebook, c.id, c.literal or ("(?!x)x",), re.IGNORECASE),
            )
            for c in self.codebook.codes if c.figurative
        }
        self.sentiment = sentiment or SentimentScorer()
        self.vader: DomainVader = self.sentiment.vader
        self.presence: LinearTextModel | None = None
        self.polarity: LinearTextModel | None = None
        self.sentence_model: LinearTextModel | None = None
        self.thresholds: dict[str, float] = {}
        self.review_weight = 1.0
        self.cue_only_codes: set[str] = set(self.codebook.ids)
        model_dir = Path(model_dir) if model_dir else shipped_model_path(PRESENCE_MODEL).parent
        if use_model and (model_dir / PRESENCE_MODEL).is_file():
            presence = LinearTextModel.load(model_dir / PRESENCE_MODEL)
            if set(presence.labels) <= set(self.codebook.ids):
                self.presence = presence
                self.polarity = LinearTextModel.load(model_dir / POLARITY_MODEL)
                self.sentence_model = LinearTextModel.load(model_dir / SENTENCE_MODEL)
                meta = json.loads((model_dir / "coder.json").read_text())
                self.thresholds = meta["thresholds"]
                self.review_weight = float(meta["review_weight"])
                # Codes the model has too few examples for (or a user added) are found by cues.
                self.cue_only_codes = set(self.codebook.ids) - set(presence.labels)

    @property
    def method(self) -> str:
        """``cues+model`` (codes the model knows; cues for the rest) or ``cues`` only."""
        return "cues+model" if self.presence is not None else "cues"

    def read(self, fulls: list[str]) -> ReviewReading:
        """What both coding tiers read from a batch of review texts: sentiment and sentences,
        cue hits per sentence and, with the models, the presence probabilities of each review
        and of each of its sentences (sentences x codes)."""
        sentiments = self.sentiment.score_many(fulls)
        sentence_lists = [[s for s, _ in r.sentences] for r in sentiments]
        with self.cues.time_limit():
            cue_hits = [self.cues.match_sentences(sents) for sents in sentence_lists]
        if self.presence is None or not fulls:
            return ReviewReading(sentiments, cue_hits, None, [np.zeros((len(s), 0)) for s in sentence_lists])
        review_p = self.presence.proba(
            [presence_text(f, merge_cue_hits(hits)) for f, hits in zip(fulls, cue_hits, strict=True)]
        )
        flat = [
            presence_text(s, h)
            for sents, hits in zip(sentence_lists, cue_hits, strict=True)
            for s, h in zip(sents, hits, strict=True)
        ]
        flat_p = self.sentence_model.proba(flat) if flat else np.zeros((0, len(self.presence.labels)))
        offsets = np.cumsum([0, *(len(s) for s in sentence_lists)])
        return ReviewReading(sentiments, cue_hits, review_p, [flat_p[a:b] for a, b in zip(offsets[:-1], offsets[1:], strict=True)])

    def code_texts(self, texts: list[str], titles: list[str] | None = None) -> list[CodedReview]:
        """Code a batch of reviews (``titles`` optional, same length)."""
        fulls = full_texts(texts, titles or [""] * len(texts))
        truncated = [len(f) > MAX_CHARS for f in fulls]
        fulls = [f[:MAX_CHARS] for f in fulls]
        reading = self.read(fulls)
        sentiments, cue_hits = reading.sentiments, reading.cue_hits
        decisions = []
        for i in range(len(fulls)):
            sents = sentiments[i].sentences
            chosen = [c for c in self._decide_cues(sents, cue_hits[i]) if c[0] in self.cue_only_codes]
            if reading.review_p is not None:
                chosen += self._decide_model(reading.review_p[i], reading.sentence_p[i], sents, cue_hits[i])
            decisions.append(self._apply_rules(chosen, fulls[i], cue_hits[i]))
        polarities = iter(self._polarities(decisions, sentiments))
        results = []
        for i, chosen in enumerate(decisions):
            sents = sentiments[i].sentences
            hits = [
                CodeHit(code, next(polarities), prob, sents[j][0], cue_hits[i][j].get(code, []), sents[j][1])
                for code, prob, j in chosen
            ]
            results.append(CodedReview(hits, sentiments[i].score, len(sents), truncated[i], sentiments[i]))
        return results

    def _apply_rules(
        self, chosen: list, full: str, cue_hits: list[dict[str, list[str]]], thresholds: dict[str, float] | None = None
    ) -> list:
        """The codebook's rules on top of the scores: a code with a ``context`` needs the review
        to match it (R5: "AI" alone is no chatbot), and a review of at most ``SHORT_REVIEW``
        words keeps at most one code, one its words name through a cue, the one furthest above
        its threshold (R4; ``thresholds``: the deciding model's, default this coder's)."""
        thresholds = self.thresholds if thresholds is None else thresholds
        if self.context:
            chosen = [c for c in chosen if c[0] not in self.context or self.context[c[0]].search(full)]
        if self.figurative:
            chosen = [c for c in chosen if c[0] not in self.figurative or not self._only_figurative(c[0], full)]
        if chosen and len(full.split()) <= SHORT_REVIEW:
            named = [c for c in chosen if any(c[0] in hits for hits in cue_hits)]
            chosen = [max(named, key=lambda c: c[1] / thresholds.get(c[0], 0.5))] if named else []
        return chosen

    def _only_figurative(self, code: str, full: str) -> bool:
        """Whether the review names ``code`` only in another sense (R7: "a good reminder to
        slow down", a title "Reminder to breathe"): it has a figurative phrase of the code, and
        with those phrases blanked out neither the code's cues nor its literal words occur."""
        figurative, literal = self.figurative[code]
        spans = [m.span() for m in figurative.finditer(full)]
        if not spans:
            return False
        rest = list(full)
        for start, end in spans:
            rest[start:end] = " " * (end - start)
        rest = "".join(rest)
        cues = self.cues.patterns.get(code)
        return not literal.search(rest) and not (cues is not None and cues.search(rest))

    def _polarities(self, decisions, sentiments) -> list[str]:
        """Polarity of every chosen code, from its evidence sentence, in one batch; money
        praise is a facilitator whatever the sentence's tone (R1)."""
        requests = [
            (code, sentiments[i].sentences[j], sentiments[i].score, i)
            for i, chosen in enumerate(decisions)
            for code, _, j in chosen
        ]
        if not requests:
            return []
        if self.polarity is not None:
            texts = [polarity_text(code, s, v, r) for code, (s, v), r, _ in requests]
            logits = self.polarity.decision(texts)[:, 0]
        else:
            logits = np.array([4.0 * v for _, (_, v), _, _ in requests])
        return [
            "facilitator" if self._rule_polarity(code, sentence, sentiments[i].sentences, x) >= 0 else "barrier"
            for x, (code, (sentence, _), _, i) in zip(logits, requests, strict=True)
        ]

    def _rule_polarity(self, code: str, sentence: str, sentences: list, logit: float) -> float:
        """The codebook's polarity rules on the model's logit for ``code``: money praise is a
        facilitator (R1); what other apps do, said in contrast with this one ("unlike other
        apps it never crashes"), is turned round (R2); a negated problem word ("no bugs",
        "never crashed") is a merit and a negated merit word ("not easy") a problem (R3)."""
        if code in self.praise and self._only_praise(code, sentences):
            return 1.0
        if about_other_apps(sentence.lower()):
            return -logit if any(_CONTRAST.search(s) for s, _ in sentences) else logit
        pattern = self.cues.patterns.get(code)
        if pattern is None or not _NEGATOR.search(sentence) or _REQUEST.search(sentence):
            return logit
        votes = set()
        for m in pattern.finditer(sentence):
            tone = self.vader.sentence(m.group(0))
            if abs(tone) >= CLEAR_TONE and _NEGATED_WORD.search(sentence[: m.start()]):
                votes.add(tone < 0)
        return (1.0 if votes == {True} else -1.0) if len(votes) == 1 else logit

    def _only_praise(self, code: str, sentences: list[tuple[str, float]]) -> bool:
        """Whether the review praises ``code`` ("completely free", "no ads") and every other cue
        of it is inside such praise or in a sentence about other apps: then it holds no
        complaint about this app (R1). Praise under a negation ("not free") or beside a limit,
        claim or wish ("only the intro is free", "says it's free") is a complaint."""
        if not any(self.praise[code].search(s) for s, _ in sentences):
            return False
        praised = False
        for sentence, _ in sentences:
            if about_other_apps(sentence.lower()):
                continue
            praise = [m.span() for m in self.praise[code].finditer(sentence)]
            if praise and _NOT_PRAISE.search(sentence):
                return False
            negated = [m.span(1) for m in _NEGATION.finditer(sentence.lower())]
            if any(a <= p < b for p, _ in praise for a, b in negated):
                return False
            for m in self.cues.patterns[code].finditer(sentence):
                if not any(a <= m.start() and m.end() <= b for a, b in praise):
                    return False
            praised = praised or bool(praise)
        return praised

    def _decide_model(self, review_probs, sent_probs, sents, cue_hits):
        """Codes whose blended review/sentence probability passes the code's threshold,
        each with the sentence the sentence model finds most indicative (cues break ties)."""
        chosen = []
        if not sents:
            return chosen
        probs = combine_presence(review_probs, sent_probs.max(axis=0), self.review_weight)
        for k, code in enumerate(self.presence.labels):
            if probs[k] < self.thresholds.get(code, 0.5):
                continue
            bonus = np.array([0.25 if code in h else 0.0 for h in cue_hits])
            j = int(np.argmax(sent_probs[:, k] + bonus))
            chosen.append((code, float(probs[k]), j))
        return chosen

    def _decide_cues(self, sents, cue_hits):
        chosen = {}
        for j, hits in enumerate(cue_hits):
            for code in hits:
                chosen.setdefault(code, (code, 1.0, j))
        return list(chosen.values())


class _WorkerJob:
    """What a coding worker codes with: set by the pool initializer inside each worker
    process, never in the parent, so no state is handed over through a global set before
    the fork (the coder reaches the worker as an initializer argument, copied by the fork,
    not pickled)."""

    coder: FactorCoder | None = None
    finish: Callable | None = None


def _code_in_worker(batch: tuple[list[str], list[str] | None]):
    return _WorkerJob.finish(_WorkerJob.coder.code_texts(*batch))


def _start_worker(parent: int, coder: FactorCoder, finish: Callable) -> None:
    """Pool initializer: tie the worker to its parent, then keep what it codes with."""
    _init_worker(parent)
    _WorkerJob.coder, _WorkerJob.finish = coder, finish


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _init_worker(parent: int) -> None:
    """Tie a worker's life to its parent's. A parent killed by SIGKILL runs no cleanup, and
    its workers (hundreds of MB each) would wait forever on the result pipe."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, inherited by fork
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The watchdog covers platforms without prctl and a parent that died before the prctl.
    threading.Thread(target=_exit_with_parent, args=(parent,), name="parent-watchdog", daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def _unchanged(results: list[CodedReview]) -> list[CodedReview]:
    return results


def code_batches(
    coder: FactorCoder,
    batches: Iterable[tuple[list[str], list[str] | None]],
    workers: int | None = None,
    finish: Callable[[list[CodedReview]], object] | None = None,
) -> Iterator:
    """Code ``(texts, titles)`` batches and yield the results in order, using every core.

    The coder is mostly pure Python (VADER, regexes, hashing), so batches go to forked
    worker processes, at most two per worker in flight so memory stays bounded, while this
    process consumes finished ones; a single batch, or a platform without ``fork``, is
    coded in this process. ``finish`` (e.g. turning results into a table) runs in the worker.
    """
    finish = finish or _unchanged
    iterator = iter(batches)
    first = next(iterator, None)
    if first is None:
        return
    second = next(iterator, None)
    workers = workers or available_cores()
    if second is None or workers < 2 or "fork" not in mp.get_all_start_methods():
        for batch in itertools.chain((first,), () if second is None else (second,), iterator):
            yield finish(coder.code_texts(*batch))
        return
    others = set(mp.active_children())
    pool = ProcessPoolExecutor(
        workers, mp_context=mp.get_context("fork"), initializer=_start_worker,
        initargs=(os.getpid(), coder, finish),
    )
    try:
        in_flight = deque(pool.submit(_code_in_worker, b) for b in (first, second))
        for batch in iterator:
            while len(in_flight) >= 2 * workers:
                yield _result(in_flight.popleft())
            in_flight.append(pool.submit(_code_in_worker, batch))
        while in_flight:
            yield _result(in_flight.popleft())
    except BaseException:
        # Stopped (Ctrl-C, SIGTERM, an error, or the consumer gave up): nobody will read the
        # batches in flight, so the workers stop now rather than finish them first.
        for worker in set(mp.active_children()) - others:
            worker.kill()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _result(future):
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise ReviewmineError(
            "a coding worker process died (often: out of memory); nothing was written - "
            "free memory or split the input and run again"
        ) from exc


def combine_presence(review_p: np.ndarray, sentence_max: np.ndarray, review_weight: float) -> np.ndarray:
    """A code's probability: the review-level model blended with its best sentence."""
    return review_weight * review_p + (1.0 - review_weight) * sentence_max


def merge_cue_hits(hits: list[dict[str, list[str]]]) -> dict[str, list[str]]:
    merged: dict[str, list[str]] = {}
    for h in hits:
        for code, cues in h.items():
            merged.setdefault(code, []).extend(cues)
    return merged
