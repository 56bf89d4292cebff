"""The analyze stage: processed reviews -> sentiment, engagement-factor codes, topics.

Reads ``DATA_DIR/processed/reviews.parquet`` (current versions; English by default) and
writes, next to it:

* ``review_scores.parquet``: one row per analysed review (sentiment, serialised codes);
* ``sentences.parquet``: one row per sentence with its domain sentiment;
* ``codes.parquet``: one row per (review, code) with polarity, evidence sentence, cues,
  model probability;
* ``topics.parquet`` and ``topic_info.parquet``: BERTopic topics per review (optional);
* ``analyze_summary.json``: counts at each step, methods and versions.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.factors import FactorCoder
from reviewmine.errors import InputError
from reviewmine.versions import software_versions

BATCH = 5000
REVIEW_COLUMNS = [
    "review_key", "store", "app", "at", "month", "app_version", "version_major_minor",
    "rating", "title", "text", "language", "is_english", "is_spam",
]  # fmt: skip


@dataclass
class AnalyzeSummary:
    reviews_in: int = 0
    skipped_non_english: int = 0
    skipped_spam: int = 0
    skipped_empty: int = 0
    analysed: int = 0
    with_codes: int = 0
    codes: int = 0
    sentences: int = 0
    topics: int | None = None
    topic_outlier_share: float | None = None
    coder_method: str = ""
    codebook: str = ""
    languages: list[str] = field(default_factory=list)
    finished_at: str = ""
    software: dict = field(default_factory=dict)


def analyze(
    data_dir: str | Path,
    languages: tuple[str, ...] = ("en",),
    include_spam: bool = False,
    codebook: str | Path | None = None,
    topics: bool = True,
    embeddings: str = "static",
    seed: int = 42,
    on_progress=None,
) -> AnalyzeSummary:
    """Run sentiment, factor coding and (optionally) topics over the processed reviews."""
    from reviewmine.process import read_reviews

    data_dir = Path(data_dir)
    source = data_dir / "processed" / "reviews.parquet"
    if not source.exists():
        raise InputError(f"{source}: not found; run 'reviewmine process --data-dir {data_dir}' first")
    reviews = read_reviews(data_dir, columns=REVIEW_COLUMNS)
    summary = AnalyzeSummary(reviews_in=len(reviews), languages=list(languages))
    keep = pd.Series(True, index=reviews.index)
    if languages:
        lang_ok = reviews["language"].isin(list(languages))
        summary.skipped_non_english = int((~lang_ok).sum())
        keep &= lang_ok
    if not include_spam:
        summary.skipped_spam = int((reviews["is_spam"] & keep).sum())
        keep &= ~reviews["is_spam"]
    empty = reviews["text"].fillna("").str.strip() == ""
    summary.skipped_empty = int((empty & keep).sum())
    keep &= ~empty
    reviews = reviews[keep].reset_index(drop=True)
    summary.analysed = len(reviews)

    cb = load_codebook(codebook) if codebook else load_codebook()
    coder = FactorCoder(cb)
    summary.coder_method, summary.codebook = coder.method, cb.name
    category = {c.id: c.category for c in cb.codes}
    score_rows, sentence_rows, code_rows = [], [], []
    for start in range(0, len(reviews), BATCH):
        part = reviews.iloc[start : start + BATCH]
        results = coder.code_texts(part["text"].tolist(), part["title"].fillna("").tolist())
        for rec, res in zip(part.to_dict("records"), results, strict=True):
            key, sent = rec["review_key"], res.detail
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
        if on_progress:
            on_progress(len(part))

    meta = reviews.drop(columns=["title", "text", "is_english", "is_spam"])
    scores = meta.merge(pd.DataFrame(score_rows, columns=_SCORE_COLS), on="review_key")
    codes = meta.merge(pd.DataFrame(code_rows, columns=_CODE_COLS), on="review_key")
    sentences = meta[["review_key", "app"]].merge(pd.DataFrame(sentence_rows, columns=_SENT_COLS), on="review_key")
    summary.with_codes = int((scores["n_codes"] > 0).sum())
    summary.codes, summary.sentences = len(codes), len(sentences)

    out = data_dir / "processed"
    _write(scores, out / "review_scores.parquet")
    _write(codes, out / "codes.parquet")
    _write(sentences, out / "sentences.parquet")
    if topics and len(reviews):
        summary.topics, summary.topic_outlier_share = _topics(reviews, out, embeddings, seed)
    summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.software = software_versions()
    (out / "analyze_summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


_SCORE_COLS = ["review_key", "sentiment", "star_probability", "vader_mean", "vader_min", "codes", "n_codes", "n_sentences"]
_CODE_COLS = ["review_key", "code", "category", "polarity", "probability", "evidence", "cues", "sentence_sentiment"]
_SENT_COLS = ["review_key", "sentence_no", "sentence", "sentiment"]


def _write(df: pd.DataFrame, path: Path) -> None:
    from reviewmine.io import write_frame

    write_frame(df, path)


def _topics(reviews: pd.DataFrame, out: Path, embeddings: str, seed: int) -> tuple[int, float]:
    """Fit the topic model on the analysed reviews (a seeded sample when large), assign all,
    and write per-review topics, the topic table and the saved model."""
    from reviewmine.analyze.topics import ReviewTopicModel, topic_positions

    texts = (reviews["title"].fillna("") + ". " + reviews["text"].fillna("")).str.strip(". ").tolist()
    model = ReviewTopicModel(embeddings=embeddings, seed=seed)
    ids = model.fit_transform(texts)
    info = model.topic_table(ids).merge(topic_positions(model), on="topic_id", how="left")
    assignments = reviews[["review_key", "app", "at", "month", "app_version"]].assign(topic_id=ids)
    assignments = assignments.merge(
        info[["topic_id", "label", "factor", "is_emerging"]], on="topic_id", how="left"
    )
    _write(assignments, out / "topics.parquet")
    _write(info, out / "topic_info.parquet")
    model.save(out / "topic_model")
    n_topics = int((info["topic_id"] != -1).sum())
    outliers = float((assignments["topic_id"] == -1).mean()) if len(assignments) else 0.0
    return n_topics, round(outliers, 4)
