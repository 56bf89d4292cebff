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

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.factors import BATCH, FactorCoder, code_batches
from reviewmine.errors import InputError
from reviewmine.io import require_data_dir
from reviewmine.versions import software_versions

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
    """Run sentiment, factor coding and (optionally) topics over the processed reviews.

    Streams the reviews in batches of 5,000 and appends each output as it goes, so memory
    stays bounded however large the corpus; the topic model is fitted on a seeded sample
    and then assigns every review in a second pass.
    """
    from reviewmine.process.reader import reviews_path

    data_dir = require_data_dir(data_dir)
    source = reviews_path(data_dir)
    if not source.exists():
        raise InputError(f"{source}: not found; run 'reviewmine process --data-dir {data_dir}' first")
    _check_before_writing(source, languages, include_spam, topics, embeddings, seed)
    summary = AnalyzeSummary(languages=list(languages))
    cb = load_codebook(codebook) if codebook else load_codebook()
    coder = FactorCoder(cb)
    summary.coder_method, summary.codebook = coder.method, cb.name
    category = {c.id: c.category for c in cb.codes}
    out = data_dir / "processed"
    sample = _Reservoir(TOPIC_SAMPLE, seed)
    schemas = _output_schemas(source)
    with _Outputs(out, ("review_scores", "codes", "sentences"), schemas) as outputs:
        batches = _analysable_batches(source, languages, include_spam, summary)
        pending: list[pd.DataFrame] = []  # frames handed to the coder, waiting for their results

        def texts():
            for reviews in batches:
                pending.append(reviews)
                yield reviews["text"].tolist(), reviews["title"].fillna("").tolist()

        for results in code_batches(coder, texts()):
            reviews = pending.pop(0)
            scores, codes, sentences = _frames(reviews, results, category)
            outputs.append("review_scores", scores)
            outputs.append("codes", codes)
            outputs.append("sentences", sentences)
            summary.analysed += len(reviews)
            summary.with_codes += int((scores["n_codes"] > 0).sum())
            summary.codes += len(codes)
            summary.sentences += len(sentences)
            if topics:
                sample.add(_topic_texts(reviews))
            if on_progress:
                on_progress(len(reviews))
    if topics and summary.analysed:
        summary.topics, summary.topic_outlier_share = _topics(
            source, languages, include_spam, sample.items(), out, embeddings, seed, schemas
        )
    summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.software = software_versions()
    (out / "analyze_summary.json").write_text(json.dumps(asdict(summary), indent=2) + "\n")
    return summary


def _check_before_writing(source: Path, languages, include_spam: bool, topics: bool, embeddings: str, seed: int) -> None:
    """Every option, and whether any review (enough for topics) is left to analyse, checked
    before an output is touched: a run that cannot finish fails in seconds, not at the end."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from reviewmine.analyze.topics import MIN_REVIEWS, check_options
    from reviewmine.process.reader import check_language, damaged_parquet, reviews_dataset

    for code in languages:
        check_language("--language", code)
    check_options(embeddings, seed)
    dataset = reviews_dataset(source)
    analysable = pc.utf8_trim_whitespace(ds.field("text")) != ""
    if languages:
        analysable &= ds.field("language").isin(list(languages))
    if not include_spam:
        analysable &= ~ds.field("is_spam")
    with damaged_parquet(source):  # scans the data, so a damaged file fails here, not mid-run
        n = dataset.count_rows(filter=analysable)
        counts = [] if n else dataset.to_table(columns=["language"]).column("language").value_counts().to_pylist()
    wanted = "/".join(languages) or "any language"
    if n == 0:
        counts.sort(key=lambda c: -c["counts"])
        present = ", ".join(f"{c['values'] or 'none'} {c['counts']:,}" for c in counts[:8]) or "no reviews"
        raise InputError(
            f"{source}: no review to analyse in {wanted}{'' if include_spam else ' (spam left out)'}; "
            f"languages present: {present}; choose them with --language"
        )
    if topics and n < MIN_REVIEWS:
        raise InputError(
            f"{source}: only {n} review(s) to analyse in {wanted}; topic modelling needs at least "
            f"{MIN_REVIEWS}; add reviews or run with --no-topics"
        )


TOPIC_SAMPLE = 30_000  # reviews kept for fitting topics (the model samples 15,000 informative ones)


def _analysable_batches(source: Path, languages, include_spam: bool, summary: AnalyzeSummary | None):
    """Batches of current reviews in the analysed languages, not spam, with text; the
    skipped ones are counted in ``summary`` (when given)."""
    import pyarrow.dataset as ds

    dataset = ds.dataset(source, format="parquet", partitioning="hive" if source.is_dir() else None)
    for batch in dataset.to_batches(columns=REVIEW_COLUMNS, batch_size=BATCH):
        reviews = batch.to_pandas()
        keep = pd.Series(True, index=reviews.index)
        skipped = {}
        if languages:
            lang_ok = reviews["language"].isin(list(languages))
            skipped["skipped_non_english"] = int((~lang_ok).sum())
            keep &= lang_ok
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


def _frames(reviews: pd.DataFrame, results, category: dict) -> tuple[pd.DataFrame, ...]:
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


def _topic_texts(reviews: pd.DataFrame) -> list[str]:
    return (reviews["title"].fillna("") + ". " + reviews["text"].fillna("")).str.strip(". ").tolist()


class _Reservoir:
    """A seeded uniform sample of at most ``size`` items from a stream, in stream order."""

    def __init__(self, size: int, seed: int):
        self.size, self.seen = size, 0
        self.rng = np.random.default_rng(seed)
        self.kept: list[tuple[int, str]] = []

    def add(self, items: list[str]) -> None:
        for item in items:
            if len(self.kept) < self.size:
                self.kept.append((self.seen, item))
            else:
                j = int(self.rng.integers(0, self.seen + 1))
                if j < self.size:
                    self.kept[j] = (self.seen, item)
            self.seen += 1

    def items(self) -> list[str]:
        return [item for _, item in sorted(self.kept)]


class _Outputs:
    """Parquet files written batch by batch to temporary names, renamed into place only
    when every batch succeeded (a crash leaves the previous outputs untouched)."""

    def __init__(self, directory: Path, names: tuple[str, ...], schemas: dict):
        self.directory, self.names, self.schemas = directory, names, schemas
        self.writers: dict = {}

    def __enter__(self) -> _Outputs:
        return self

    def _tmp(self, name: str) -> Path:
        return self.directory / f".{name}.parquet.tmp"

    def append(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = self.schemas[name]
        table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self._tmp(name), schema)
        self.writers[name].write_table(table)

    def __exit__(self, exc_type, exc, tb) -> None:
        for writer in self.writers.values():
            writer.close()
        if exc_type is None:
            for name in self.names:
                if name in self.writers:
                    self._tmp(name).replace(self.directory / f"{name}.parquet")
                else:
                    (self.directory / f"{name}.parquet").unlink(missing_ok=True)
        for name in self.names:
            self._tmp(name).unlink(missing_ok=True)


def _output_schemas(source: Path) -> dict:
    """Arrow schemas of the outputs, fixed up front so a batch whose values are all null
    (say, no app versions) cannot give a file a type later batches do not fit."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    reviews = ds.dataset(source, format="parquet", partitioning="hive" if source.is_dir() else None).schema
    meta = [reviews.field(c) for c in REVIEW_COLUMNS if c not in ("title", "text", "is_english", "is_spam")]
    f64, text, i64 = pa.float64(), pa.string(), pa.int64()
    computed = {
        "review_scores": [("sentiment", f64), ("star_probability", f64), ("vader_mean", f64), ("vader_min", f64),
                          ("codes", text), ("n_codes", i64), ("n_sentences", i64)],
        "codes": [("code", text), ("category", text), ("polarity", text), ("probability", f64),
                  ("evidence", text), ("cues", text), ("sentence_sentiment", f64)],
        "sentences": [("sentence_no", i64), ("sentence", text), ("sentiment", f64)],
        "topics": [("topic_id", i64), ("label", text), ("factor", text), ("is_emerging", pa.bool_())],
    }  # fmt: skip
    keys = {"sentences": ["review_key", "app"], "topics": ["review_key", "app", "at", "month", "app_version"]}
    schemas = {}
    for name, fields in computed.items():
        base = [f for f in meta if f.name in keys[name]] if name in keys else meta
        schemas[name] = pa.schema([*base, *(pa.field(n, t) for n, t in fields)])
    return schemas


_SCORE_COLS = ["review_key", "sentiment", "star_probability", "vader_mean", "vader_min", "codes", "n_codes", "n_sentences"]
_CODE_COLS = ["review_key", "code", "category", "polarity", "probability", "evidence", "cues", "sentence_sentiment"]
_SENT_COLS = ["review_key", "sentence_no", "sentence", "sentiment"]


def _write(df: pd.DataFrame, path: Path) -> None:
    from reviewmine.io import write_frame

    write_frame(df, path)


def _coded_factors(codes_path: Path, keys: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Per topic, the factor the coder finds most often in its reviews and the share of the
    topic's reviews that carry it: the coder's view of what a topic is about, beside the
    embedding-based ``factor``."""
    columns = ["topic_id", "coded_factor", "coded_factor_share"]
    if not len(ids) or not codes_path.is_file():
        return pd.DataFrame(columns=columns).astype({"topic_id": int})
    topic_of = pd.DataFrame({"review_key": keys, "topic_id": ids})
    codes = pd.read_parquet(codes_path, columns=["review_key", "code"]).drop_duplicates()
    counts = codes.merge(topic_of, on="review_key").groupby(["topic_id", "code"]).size().rename("n").reset_index()
    counts["coded_factor_share"] = (counts["n"] / counts["topic_id"].map(topic_of["topic_id"].value_counts())).round(4)
    top = counts.sort_values(["topic_id", "n", "code"], ascending=[True, False, True]).groupby("topic_id").head(1)
    return top.rename(columns={"code": "coded_factor"})[columns].reset_index(drop=True)


def _topics(source, languages, include_spam, sample: list[str], out: Path, embeddings: str, seed: int, schemas):
    """Fit the topic model on the seeded sample, assign every analysed review in a second
    pass, and write per-review topics, the topic table (with map positions) and the model."""
    from reviewmine.analyze.topics import ReviewTopicModel, topic_positions

    model = ReviewTopicModel(embeddings=embeddings, seed=seed).fit(sample)
    labels = model.topic_table()[["topic_id", "label", "factor", "is_emerging"]]
    all_ids, all_keys = [], []
    with _Outputs(out, ("topics",), schemas) as outputs:
        for reviews in _analysable_batches(source, languages, include_spam, None):
            ids = model.transform(_topic_texts(reviews))
            all_ids.append(ids)
            all_keys.append(reviews["review_key"].to_numpy())
            rows = reviews[["review_key", "app", "at", "month", "app_version"]].assign(topic_id=ids)
            outputs.append("topics", rows.merge(labels, on="topic_id", how="left"))
    ids = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=int)
    keys = np.concatenate(all_keys) if all_keys else np.zeros(0, dtype=object)
    info = model.topic_table(ids).merge(topic_positions(model), on="topic_id", how="left")
    info = info.merge(_coded_factors(out / "codes.parquet", keys, ids), on="topic_id", how="left")
    _write(info, out / "topic_info.parquet")
    model.save(out / "topic_model")
    n_topics = int((info["topic_id"] != -1).sum())
    return n_topics, round(float((ids == -1).mean()) if len(ids) else 0.0, 4)
