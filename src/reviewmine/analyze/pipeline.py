"""The analyze stage: processed reviews -> sentiment, engagement-factor codes, topics.

Reads ``DATA_DIR/processed/reviews.parquet`` (current versions; English by default) and
writes, next to it:

* ``review_scores.parquet``: one row per analysed review (sentiment, serialised codes);
* ``sentences.parquet``: one row per sentence with its domain sentiment;
* ``codes.parquet``: one row per (review, code) with polarity, evidence sentence, cues,
  model probability;
* ``topics.parquet`` and ``topic_info.parquet``: BERTopic topics per review (optional);
* ``analyze_summary.json``: counts at each step, methods and versions, the run id, the
  generation of the processed reviews it was made from, and the list of its outputs.

The outputs of one run are one generation: they are written into a temporary directory
beside them (``processed/.tmp-analyze-*``) and moved into place together at the end, the
summary last; outputs the run does not make (topics with ``topics=False``) are removed.
Each Parquet output carries the run id and the processed generation in its key-value
metadata, so ``report`` can refuse files of different runs or of older processed data. A
killed run leaves the previous generation in place; the next run removes its temporary
directory.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import tempfile
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.accurate import make_coder
from reviewmine.analyze.batch import (
    REVIEW_COLUMNS,
    TOPIC_MODEL_DIR,
    TOPIC_SAMPLE,
    AnalyzeSummary,
    KeySample,
    analysable,
    frames,
    no_coded_factors,
    top_coded_factors,
    topic_code_counts,
    write_stamped,
)
from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.factors import BATCH, code_batches
from reviewmine.analyze.sentences import review_texts
from reviewmine.config import MODELS_DIR
from reviewmine.errors import InputError
from reviewmine.io import file_sha256, require_data_dir, write_atomic
from reviewmine.process.schema import GENERATION_KEY
from reviewmine.versions import software_versions

RUN_KEY = "reviewmine.analyze_run"
"""Parquet key-value metadata: the id of the analyze run that wrote a file."""
SUMMARY_FILE = "analyze_summary.json"
PARQUET_OUTPUTS = ("review_scores", "codes", "sentences", "topics", "topic_info")
STAGING_PREFIX = ".tmp-analyze-"

def analyze(
    data_dir: str | Path,
    languages: tuple[str, ...] = ("en",),
    include_spam: bool = False,
    codebook: str | Path | None = None,
    topics: bool = True,
    embeddings: str = "static",
    seed: int = 42,
    on_progress=None,
    coder: str = "fast",
    engine: str = "local",
    scheduler: str | None = None,
    on_message=None,
    on_partition=None,
) -> AnalyzeSummary:
    """Run sentiment, factor coding and (optionally) topics over the processed reviews.

    Streams the reviews in batches of 5,000 and appends each output as it goes, so memory
    stays bounded however large the corpus; the topic model is fitted on a seeded sample
    and then assigns every review in a second pass. ``coder``: the coding tier, ``fast``
    (default; for large corpora) or ``accurate`` (slower, more accurate: docs/coder-accuracy.md).

    With ``engine="dask"`` the work runs on a Dask cluster (``scheduler`` address, default
    ``$REVIEWMINE_DASK_SCHEDULER`` or a local cluster; :mod:`reviewmine.analyze.on_dask`):
    the same values, with review_scores, codes, sentences and topics written as Parquet
    datasets (folders partitioned by store/app) under the same names. ``on_message``
    receives the dashboard link, ``on_partition`` (tasks done, tasks in all).
    """
    from reviewmine.engine import check_engine
    from reviewmine.process.reader import reviews_generation, reviews_path

    check_engine(engine, scheduler)
    data_dir = require_data_dir(data_dir)
    source = reviews_path(data_dir)
    if not source.exists():
        raise InputError(f"{source}: not found; run 'reviewmine process --data-dir {data_dir}' first")
    _check_before_writing(source, languages, include_spam, topics, embeddings, seed)
    summary = AnalyzeSummary(
        run_id=f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        generation=reviews_generation(data_dir),
        languages=list(languages),
        options={
            "languages": list(languages), "include_spam": include_spam,
            "codebook": str(codebook) if codebook else None, "topics": topics,
            "embeddings": embeddings, "seed": seed, "coder": coder,
        },
    )  # fmt: skip
    cb = load_codebook(codebook) if codebook else load_codebook()
    tier = make_coder(coder, cb)
    summary.coder, summary.coder_method, summary.codebook = coder, tier.method, cb.name
    category = {c.id: c.category for c in cb.codes}
    out = data_dir / "processed"
    with contextlib.ExitStack() as stack:
        if engine == "dask":  # connected before anything is written
            from reviewmine.engine import dask_client

            client = stack.enter_context(dask_client(scheduler, on_message))
        for stale in out.glob(STAGING_PREFIX + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
        try:
            if engine == "dask":
                from reviewmine.analyze.on_dask import analyze_on_dask
                from reviewmine.engine import CoderFactory

                analyze_on_dask(
                    client, source, staging, CoderFactory(make_coder, {"coder": coder, "codebook": cb}),
                    languages=languages, include_spam=include_spam, category=category, topics=topics,
                    embeddings=embeddings, seed=seed, summary=summary,
                    schemas=_output_schemas(source, _stamp(summary)), stamp=_stamp(summary),
                    on_partition=on_partition,
                )
                _write_summary(staging, summary)
            else:
                _analyze_into(staging, source, languages, include_spam, tier, category, topics,
                              embeddings, seed, summary, on_progress)
            _commit(staging, out)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return summary


def _stamp(summary: AnalyzeSummary) -> dict[str, str]:
    """Key-value metadata of every output of a run."""
    return {RUN_KEY: summary.run_id, GENERATION_KEY: summary.generation}


def _analyze_into(staging: Path, source: Path, languages, include_spam: bool, coder, category: dict,
                  topics: bool, embeddings: str, seed: int, summary: AnalyzeSummary, on_progress) -> None:
    """Write every output of one run, its summary last, into ``staging``."""
    stamp = _stamp(summary)
    sample = KeySample(TOPIC_SAMPLE, seed)
    schemas = _output_schemas(source, stamp)
    with _Outputs(staging, ("review_scores", "codes", "sentences"), schemas) as outputs:
        batches = _analysable_batches(source, languages, include_spam, summary)
        pending: list[pd.DataFrame] = []  # frames handed to the coder, waiting for their results

        def texts():
            for reviews in batches:
                pending.append(reviews)
                yield reviews["text"].tolist(), reviews["title"].fillna("").tolist()

        for results in code_batches(coder, texts()):
            reviews = pending.pop(0)
            scores, codes, sentences = frames(reviews, results, category)
            outputs.append("review_scores", scores)
            outputs.append("codes", codes)
            outputs.append("sentences", sentences)
            summary.analysed += len(reviews)
            summary.with_codes += int((scores["n_codes"] > 0).sum())
            summary.codes += len(codes)
            summary.sentences += len(sentences)
            if topics:
                sample.add(reviews["review_key"], review_texts(reviews))
            if on_progress:
                on_progress(len(reviews))
    if topics and summary.analysed:
        summary.topics, summary.topic_outlier_share = _topics(
            source, languages, include_spam, sample.items(), staging, embeddings, seed, schemas, stamp
        )
    _write_summary(staging, summary)


def _write_summary(staging: Path, summary: AnalyzeSummary) -> None:
    """Finish ``summary`` (time, versions, the outputs in ``staging``) and write it there."""
    summary.finished_at = datetime.now(UTC).isoformat(timespec="seconds")
    summary.software = software_versions()
    summary.models = shipped_model_hashes()
    summary.outputs = {
        p.name.removesuffix(".parquet"): p.name for p in sorted(staging.iterdir()) if p.name != SUMMARY_FILE
    }
    with write_atomic(staging / SUMMARY_FILE) as tmp:
        tmp.write_text(json.dumps(asdict(summary), indent=2) + "\n")


def _commit(staging: Path, out: Path) -> None:
    """Move one run's outputs from ``staging`` into ``out``, remove the outputs it did not
    make, and move its summary last: until then ``report`` sees the previous summary, whose
    run id the new files do not carry, and refuses rather than mixing runs."""
    made = {p.name for p in staging.iterdir()}
    owned = {f"{n}.parquet" for n in PARQUET_OUTPUTS} | {TOPIC_MODEL_DIR}
    for name in sorted(owned - made):
        target = out / name
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    for name in sorted(made - {SUMMARY_FILE}):
        target = out / name
        if target.is_dir():  # a folder: the topic model, or a dataset of the Dask engine
            shutil.rmtree(target)
        elif (staging / name).is_dir():  # a dataset replaces a file of the local engine
            target.unlink(missing_ok=True)
        os.replace(staging / name, target)
    os.replace(staging / SUMMARY_FILE, out / SUMMARY_FILE)


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


# Figures measured of the shipped models (re-measuring them changes no code a review gets)
MEASUREMENT_FILES = frozenset({
    "coder_accuracy.json", "coder_crossapp.json", "coder_prevalence.json",
    "coder_accurate_accuracy.json", "coder_accurate_crossapp.json", "coder_accurate_encoders.json",
    "coder_accurate_prevalence.json", "gold_second_coder.json",
})  # fmt: skip


def shipped_model_hashes() -> dict[str, str]:
    """Model file -> start of its SHA-256, for every file the shipped models are made of
    (weights, thresholds, blend weights; not the measurements of them)."""
    files = tuple(
        (p.name, p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(MODELS_DIR.glob("*.*")) if p.name not in MEASUREMENT_FILES
    )
    return dict(_model_hashes(files))


@functools.lru_cache(maxsize=4)
def _model_hashes(files: tuple[tuple[str, int, int], ...]) -> tuple[tuple[str, str], ...]:
    """Hashes of the model files (once per process and file state: a report asks several times)."""
    return tuple((name, file_sha256(MODELS_DIR / name)[:16]) for name, _, _ in files)


def _analysable_batches(source: Path, languages, include_spam: bool, summary: AnalyzeSummary | None):
    """Batches of current reviews in the analysed languages, not spam, with text; the
    skipped ones are counted in ``summary`` (when given)."""
    from reviewmine.process.reader import reviews_dataset

    dataset = reviews_dataset(source)
    batches = dataset.to_batches(columns=REVIEW_COLUMNS, batch_size=BATCH)
    yield from analysable(batches, languages, include_spam, summary)


class _Outputs:
    """Parquet files of the staging directory, written batch by batch; on a clean exit an
    output no batch reached is written empty, so every output of the run exists."""

    def __init__(self, directory: Path, names: tuple[str, ...], schemas: dict):
        self.directory, self.names, self.schemas = directory, names, schemas
        self.writers: dict = {}

    def __enter__(self) -> _Outputs:
        return self

    def _writer(self, name: str):
        import pyarrow.parquet as pq

        if name not in self.writers:
            self.writers[name] = pq.ParquetWriter(self.directory / f"{name}.parquet", self.schemas[name])
        return self.writers[name]

    def append(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        schema = self.schemas[name]
        table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
        self._writer(name).write_table(table)

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            for name in self.names:
                self._writer(name)
        for writer in self.writers.values():
            writer.close()


def _output_schemas(source: Path, metadata: dict[str, str]) -> dict:
    """Arrow schemas of the outputs, fixed up front so a batch whose values are all null
    (say, no app versions) cannot give a file a type later batches do not fit; each
    carries ``metadata`` (run id and processed generation)."""
    import pyarrow as pa

    from reviewmine.process.reader import reviews_dataset

    reviews = reviews_dataset(source).schema
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
        schemas[name] = pa.schema([*base, *(pa.field(n, t) for n, t in fields)], metadata=metadata)
    return schemas


def coded_factors(codes: pd.DataFrame, keys: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """Per topic, the factor the coder finds most often in its reviews and the share of the
    topic's reviews that carry it: the coder's view of what a topic is about, beside the
    embedding-based ``factor``. ``codes`` has one row per (``review_key``, ``code``); ``keys``
    and ``ids`` give each review's topic."""
    if not len(ids):
        return no_coded_factors()
    return top_coded_factors(topic_code_counts(codes, keys, ids), pd.Series(ids).value_counts())


def _coded_factors(codes_path: Path, keys: np.ndarray, ids: np.ndarray) -> pd.DataFrame:
    """:func:`coded_factors` of the run's ``codes.parquet`` (none without it)."""
    if not codes_path.is_file():
        return no_coded_factors()
    return coded_factors(pd.read_parquet(codes_path, columns=["review_key", "code"]), keys, ids)


def _topics(source, languages, include_spam, sample: list[str], out: Path, embeddings: str, seed: int, schemas,
            stamp: dict[str, str]):
    """Fit the topic model on the seeded sample, assign every analysed review in a second
    pass, and write per-review topics, the topic table (with map positions) and the model."""
    from reviewmine.analyze.topics import ReviewTopicModel, topic_positions

    model = ReviewTopicModel(embeddings=embeddings, seed=seed).fit(sample)
    labels = model.topic_table()[["topic_id", "label", "factor", "is_emerging"]]
    all_ids, all_keys = [], []
    with _Outputs(out, ("topics",), schemas) as outputs:
        for reviews in _analysable_batches(source, languages, include_spam, None):
            ids = model.transform(review_texts(reviews))
            all_ids.append(ids)
            all_keys.append(reviews["review_key"].to_numpy())
            rows = reviews[["review_key", "app", "at", "month", "app_version"]].assign(topic_id=ids)
            outputs.append("topics", rows.merge(labels, on="topic_id", how="left"))
    ids = np.concatenate(all_ids) if all_ids else np.zeros(0, dtype=int)
    keys = np.concatenate(all_keys) if all_keys else np.zeros(0, dtype=object)
    info = model.topic_table(ids).merge(topic_positions(model), on="topic_id", how="left")
    info = info.merge(_coded_factors(out / "codes.parquet", keys, ids), on="topic_id", how="left")
    write_stamped(info, out / "topic_info.parquet", stamp)
    model.save(out / TOPIC_MODEL_DIR)
    n_topics = int((info["topic_id"] != -1).sum())
    return n_topics, round(float((ids == -1).mean()) if len(ids) else 0.0, 4)
