"""Domain sentiment for mental-health app reviews.

Two parts, both explainable:

* ``DomainVader``: VADER with a domain lexicon. Clinical words ("depression", "anxiety",
  "panic") name what the app is about, not how the reviewer feels about the app, so
  they are neutral here; app-review words VADER lacks ("crashes", "paywall",
  "overpriced", "buggy") get a valence. Scored per sentence (VADER is built for
  sentences; its compound saturates on long texts), averaged per review.
* ``StarModel``: a linear model over hashed word n-grams learned from star ratings of
  real reviews (4-5 vs 1-2 stars), shipped as weights in ``models/sentiment_stars.npz``.

``SentimentScorer`` blends them: ``score = tanh((logit + beta * vader_mean) / 2)`` in
[-1, 1], where ``beta`` was chosen on apps left out of training. Every score can be
explained: the VADER score per sentence and the words that moved the learned model.

>>> scorer = SentimentScorer()
>>> scorer.score("This app really helped my depression and anxiety") > 0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reviewmine.analyze.fastvader import FastVader
from reviewmine.analyze.sentences import split_sentences
from reviewmine.analyze.textmodel import LinearTextModel
from reviewmine.config import MODELS_DIR

# Clinical and topic words: neutral in this domain.
NEUTRAL_TOPIC_WORDS = (
    "depression", "depressed", "depressive", "anxiety", "anxious", "anxieties", "panic",
    "panicking", "stress", "stressed", "stresses", "stressful", "suicidal", "suicide",
    "crisis", "lonely", "loneliness", "insomnia", "trauma", "traumatic", "ptsd", "ocd",
    "grief", "grieving", "worry", "worries", "worried", "fear", "fears", "attack", "attacks",
    "illness", "disorder", "tension", "nervous", "anger", "sadness", "pain", "therapy",
    "mental", "cancer", "addiction",
)  # fmt: skip

# App-review vocabulary that VADER lacks or weighs for another domain (valence -4..4).
DOMAIN_VALENCES: dict[str, float] = {
    "crash": -2.0, "crashes": -2.0, "crashed": -2.0, "crashing": -2.0,
    "bug": -1.5, "bugs": -1.5, "buggy": -2.0, "glitch": -1.5, "glitches": -1.5,
    "glitchy": -1.8, "freezes": -1.8, "froze": -1.5, "laggy": -1.5, "lags": -1.2,
    "unusable": -2.5, "unresponsive": -1.8, "broken": -1.8,
    "paywall": -1.8, "paywalled": -1.8, "paywalls": -1.8, "overpriced": -2.2,
    "expensive": -1.5, "pricey": -1.2, "ads": -1.0, "scam": -2.8, "scammed": -2.8,
    "refund": -1.2, "charged": -1.2, "unsubscribe": -1.0, "uninstall": -1.2,
    "uninstalled": -1.5, "deleted": -0.8, "subscription": -0.3, "greedy": -2.2,
    "repetitive": -1.3, "scripted": -1.0, "robotic": -1.2, "generic": -0.8,
    "lifesaver": 3.0, "calming": 1.8, "soothing": 1.8, "relaxing": 2.0,
    "intuitive": 1.5, "seamless": 1.5, "worth": 1.5, "affordable": 1.2, "recommend": 1.5,
    "recommended": 1.5, "helps": 1.8, "helped": 1.8, "helping": 1.5,
}  # fmt: skip


class DomainVader:
    """VADER with the domain lexicon above; ``lexicon_updates`` adds or overrides words.

    Scores come from ``FastVader``, a reimplementation verified to give vaderSentiment's
    compound score exactly (same lexicon, same rules) several times faster.
    """

    def __init__(self, lexicon_updates: dict[str, float] | None = None):
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()
        lexicon = self._analyzer.lexicon
        for word in NEUTRAL_TOPIC_WORDS:
            lexicon.pop(word, None)
        lexicon.update(DOMAIN_VALENCES)
        lexicon.update(lexicon_updates or {})
        self._fast = FastVader.from_analyzer(self._analyzer, memo_size=0)

    def sentence(self, sentence: str) -> float:
        """Compound score of one sentence in [-1, 1]."""
        return self._fast.compound(sentence)

    def review(self, text: str) -> tuple[float, list[tuple[str, float]]]:
        """Mean sentence compound and the per-sentence scores."""
        sentences = split_sentences(text)
        if not sentences:
            return 0.0, []
        scored = list(zip(sentences, map(self._fast.compound, sentences), strict=True))
        return sum(v for _, v in scored) / len(scored), scored


def shipped_model_path(name: str) -> Path:
    return MODELS_DIR / name


@dataclass(frozen=True)
class SentimentResult:
    """A review's sentiment with what it is made of."""

    score: float
    vader_mean: float
    vader_min: float
    star_probability: float
    sentences: list[tuple[str, float]]


class SentimentScorer:
    """Blend of ``DomainVader`` and the learned ``StarModel``.

    ``beta`` weighs VADER against the learned logit; ``use_star_model=False`` gives the
    pure lexicon score (fully rule-based, no learned weights).
    """

    def __init__(
        self,
        star_model_path: str | Path | None = None,
        beta: float | None = None,
        use_star_model: bool = True,
        vader: DomainVader | None = None,
    ):
        self.vader = vader or DomainVader()
        self.star_model: LinearTextModel | None = None
        self.beta = 2.0 if beta is None else beta
        if use_star_model:
            path = Path(star_model_path) if star_model_path else shipped_model_path("sentiment_stars.npz")
            self.star_model = LinearTextModel.load(path)
            if beta is None:
                self.beta = float(_read_beta(path, self.beta))

    def score(self, text: str) -> float:
        return self.score_many([text])[0].score

    def score_many(self, texts: list[str]) -> list[SentimentResult]:
        """Score reviews; each result keeps its sentence scores for auditing."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        logits = (
            self.star_model.decision(texts)[:, 0]
            if self.star_model is not None
            else np.zeros(len(texts))
        )
        results = []
        for text, logit in zip(texts, logits, strict=True):
            mean, sentences = self.vader.review(text)
            low = min((v for _, v in sentences), default=0.0)
            combined = float(logit) + self.beta * mean if self.star_model else 4.0 * mean
            if not sentences:  # nothing to read (empty, punctuation only): no sentiment
                combined = 0.0
            results.append(
                SentimentResult(
                    score=math.tanh(combined / 2.0),
                    vader_mean=mean,
                    vader_min=low,
                    star_probability=1.0 / (1.0 + math.exp(-float(logit))) if self.star_model else float("nan"),
                    sentences=sentences,
                )
            )
        return results

    def explain(self, text: str, top: int = 5) -> list[tuple[str, float]]:
        """Words and bigrams that pushed the learned part of the score most."""
        if self.star_model is None:
            return []
        return self.star_model.explain(text, "positive", top=top)


def _read_beta(model_path: Path, default: float) -> float:
    sidecar = model_path.with_suffix(".json")
    if sidecar.is_file():
        import json

        return float(json.loads(sidecar.read_text()).get("beta", default))
    return default
