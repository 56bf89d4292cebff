"""The analyze stage's work on one batch of reviews, shared by both engines: which reviews
are analysed (:func:`analysable`), their output rows (:func:`frames`), the seeded topic
sample (:class:`KeySample`), the counts behind the coder's view of each topic, and the
run's summary (:class:`AnalyzeSummary`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

TOPIC_MODEL_DIR = "topic_model"
REVIEW_COLUMNS = [
    "review_key", "store", "app", "at", "month", "app_version", "version_major_minor",
    "rating", "title", "text", "language", "is_english", "is_spam",
]  # fmt: skip


@dataclass
class AnalyzeSummary:
    run_id: str = ""
    generation: str = ""
    """Generation of the processed reviews this run read (see ``reviews_generation``)."""
    reviews_in: int = 0
    skipped_non_english: int = 0
    skipped_by_language: dict = field(default_factory=dict)
    """Language code (``none``: no language detected) -> reviews skipped as not analysed."""
    skipped_language_sample: list = field(default_factory=list)
    """A seeded sample of those reviews (key, language, start of the text) to check by eye."""
    skipped_spam: int = 0
    skipped_empty: int = 0
    analysed: int = 0
    with_codes: int = 0
    codes: int = 0
    sentences: int = 0
    topics: int | None = None
    topic_outlier_share: float | None = None
    coder: str = "fast"
    """The coding tier (``fast`` or ``accurate``)."""
    coder_method: str = ""
    codebook: str = ""
    languages: list[str] = field(default_factory=list)
    finished_at: str = ""
    options: dict = field(default_factory=dict)
    software: dict = field(default_factory=dict)
    models: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    """Output name -> file (or directory) in ``processed/``; all of this run."""


LANGUAGE_SAMPLE = 20  # skipped-for-language reviews listed in the summary for the user to check


TOPIC_SAMPLE = 30_000  # reviews kept for fitting topics (the model samples 15,000 informative ones)


def analysable(batches, languages, include_spam: bool, summary: AnalyzeSummary | None):
    """:func:`_analysable_batches` of Arrow record batches of ``REVIEW_COLUMNS`` (the Dask
    engine reads them a partition at a time)."""
    dropped_sample = _Reservoir(LANGUAGE_SAMPLE, seed=0)
    for batch in batches:
        reviews = batch.to_pandas()
        keep = pd.Series(True, index=reviews.index)
        skipped = {}
        if languages:
            lang_ok = reviews["language"].isin(list(languages))
            skipped["skipped_non_english"] = int((~lang_ok).sum())
            keep &= lang_ok
            if summary is not None and not lang_ok.all():
                dropped = reviews.loc[~lang_ok, ["review_key", "language", "text"]]
                dropped = dropped.assign(language=dropped["language"].fillna("none"))  # no language detected
                for language, n in dropped["language"].value_counts().items():
                    summary.skipped_by_language[language] = summary.skipped_by_language.get(language, 0) + int(n)
                dropped_sample.add(list(dropped.itertuples(index=False, name=None)))
        if not include_spam:
            skipped["skipped_spam"] = int((reviews["is_spam"] & keep).sum())
            keep &= ~reviews["is_spam"]
        empty = reviews["text"].fillna("").str.strip() == ""
        skipped["skipped_empty"] = int((empty & keep).sum())
        keep &= ~empty
        if summary is not None:
            summary.reviews_in += len(reviews)
            for name, n in skipped.items():
                setattr(summary, name, getattr(summary, name) + n)
        if keep.any():
            yield reviews[keep].reset_index(drop=True)
    if summary is not None:
        summary.skipped_by_language = dict(sorted(summary.skipped_by_language.items(), key=lambda kv: -kv[1]))
        summary.skipped_language_sample = [
            {"review_key": key, "language": language, "text": (text or "")[:160]}
            for key, language, text in dropped_sample.items()
        ]


def frames(reviews: pd.DataFrame, results, category: dict) -> tuple[pd.DataFrame, ...]:
    """The review_scores, codes and sentences rows of one coded batch."""
    score_rows, sentence_rows, code_rows = [], [], []
    for key, res in zip(reviews["review_key"], results, strict=True):
        sent = res.detail
        score_rows.append(
            {
                "review_key": key,
                "sentiment": res.sentiment,
                "star_probability": sent.star_probability,
                "vader_mean": sent.vader_mean,
                "vader_min": sent.vader_min,
                "codes": res.serialised,
                "n_codes": len(res.codes),
                "n_sentences": res.n_sentences,
            }
        )
        for n, (sentence, value) in enumerate(sent.sentences):
            sentence_rows.append({"review_key": key, "sentence_no": n, "sentence": sentence, "sentiment": value})
        for hit in res.codes:
            code_rows.append(
                {
                    "review_key": key,
                    "code": hit.code,
                    "category": category.get(hit.code, ""),
                    "polarity": hit.polarity,
                    "probability": hit.probability,
                    "evidence": hit.evidence,
                    "cues": "; ".join(dict.fromkeys(hit.cues)),
                    "sentence_sentiment": hit.sentence_sentiment,
                }
            )
    meta = reviews.drop(columns=["title", "text", "is_english", "is_spam"])
    scores = meta.merge(pd.DataFrame(score_rows, columns=_SCORE_COLS), on="review_key")
    codes = meta.merge(pd.DataFrame(code_rows, columns=_CODE_COLS), on="review_key")
    sentences = meta[["review_key", "app"]].merge(pd.DataFrame(sentence_rows, columns=_SENT_COLS), on="review_key")
    return scores, codes, sentences


class KeySample:
    """A seeded uniform sample of at most ``size`` items, chosen by a seeded hash of their
    review keys: the same sample whatever order the reviews come in, and the union of
    per-partition samples (:meth:`merge`) is the sample of the whole corpus, so both engines
    fit topics on the same reviews."""

    def __init__(self, size: int, seed: int):
        self.size = size
        self.hash_key = f"reviewmine{seed:06d}"[-16:]
        self.hashes = np.zeros(0, dtype=np.uint64)
        self.items_: list = []

    def add(self, keys, items: list) -> None:
        hashes = pd.util.hash_array(np.asarray(keys, dtype=object), hash_key=self.hash_key)
        self._keep(np.concatenate([self.hashes, hashes]), self.items_ + list(items))

    def merge(self, other: KeySample) -> None:
        self._keep(np.concatenate([self.hashes, other.hashes]), self.items_ + other.items_)

    def _keep(self, hashes: np.ndarray, items: list) -> None:
        order = np.argsort(hashes, kind="stable")[: self.size]
        self.hashes = hashes[order]
        self.items_ = [items[i] for i in order.tolist()]

    def items(self) -> list:
        """The sampled items, in the order of their hashes."""
        return list(self.items_)


class _Reservoir:
    """A seeded uniform sample of at most ``size`` items from a stream, in stream order."""

    def __init__(self, size: int, seed: int):
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)
        self.kept: list[tuple[int, object]] = []

    def add(self, items: list) -> None:
        for item in items:
            if len(self.kept) < self.size:
                self.kept.append((self.seen, item))
            else:
                j = int(self.rng.integers(0, self.seen + 1))
                if j < self.size:
                    self.kept[j] = (self.seen, item)
            self.seen += 1

    def items(self) -> list:
        return [item for _, item in sorted(self.kept)]


_SCORE_COLS = ["review_key", "sentiment", "star_probability", "vader_mean", "vader_min", "codes", "n_codes", "n_sentences"]
_CODE_COLS = ["review_key", "code", "category", "polarity", "probability", "evidence", "cues", "sentence_sentiment"]
_SENT_COLS = ["review_key", "sentence_no", "sentence", "sentiment"]


def write_stamped(df: pd.DataFrame, path: Path, metadata: dict[str, str]) -> None:
    """A DataFrame as Parquet with ``metadata`` added to pandas' own key-value metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata}), path)


def topic_code_counts(codes: pd.DataFrame, keys: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Reviews per (``topic_id``, ``code``) (column ``n``): per partition, summed by the Dask engine."""
    topic_of = pd.DataFrame({"review_key": keys, "topic_id": ids})
    codes = codes[["review_key", "code"]].drop_duplicates()
    return codes.merge(topic_of, on="review_key").groupby(["topic_id", "code"]).size().rename("n").reset_index()


def top_coded_factors(counts: pd.DataFrame, sizes: pd.Series) -> pd.DataFrame:
    """:func:`coded_factors` from :func:`topic_code_counts` and the reviews per topic."""
    if not len(counts):
        return no_coded_factors()
    counts = counts.copy()
    counts["coded_factor_share"] = (counts["n"] / counts["topic_id"].map(sizes)).round(4)
    top = counts.sort_values(["topic_id", "n", "code"], ascending=[True, False, True]).groupby("topic_id").head(1)
    return top.rename(columns={"code": "coded_factor"})[list(_CODED_FACTOR_COLS)].reset_index(drop=True)


_CODED_FACTOR_COLS = ("topic_id", "coded_factor", "coded_factor_share")


def no_coded_factors() -> pd.DataFrame:
    return pd.DataFrame(columns=list(_CODED_FACTOR_COLS)).astype({"topic_id": int})

