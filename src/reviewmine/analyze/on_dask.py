"""``analyze`` and ``code`` on a Dask cluster.

The coder is built once per worker process by a worker plugin (:func:`register_coder`)
from a small picklable factory the caller gives (:class:`CoderFactory`: which coder class
or function, with which arguments), so no task carries a model and the coder tier is the
caller's choice. ``analyze`` runs one task per file of the processed reviews (per row
group of a single-file ``reviews.parquet``): sentiment and codes per partition, written as
Parquet datasets partitioned by store/app; the topic model is fitted on the client on a
seeded sample (the union of the partitions' key-hash samples, the same sample the local
engine draws), shipped once to every worker, and assigns topics per partition; the topic
table and the coder's view of each topic are aggregated from per-partition counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from reviewmine.analyze.factors import BATCH

try:  # only imported on the Dask path, where the extra is installed
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover
    WorkerPlugin = object  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from distributed import Client

    from reviewmine.analyze.batch import AnalyzeSummary
    from reviewmine.analyze.factors import FactorCoder

CODER_PLUGIN = "reviewmine-coder"
CODE_PARTITION_ROWS = 20_000
"""Rows of a ``code`` input per task: some seconds of coding, so progress moves and a
killed worker loses little."""
PART_ROWS = 50_000
"""Reviews per ``analyze`` task at least (small files of a dataset are taken together)."""


class _Given:
    """A coder the caller built, shipped once to each worker with the plugin."""

    def __init__(self, coder: FactorCoder) -> None:
        self.coder = coder

    def __call__(self) -> FactorCoder:
        return self.coder


def coder_factory(coder: FactorCoder | Callable[[], FactorCoder]) -> Callable[[], FactorCoder]:
    """The plugin's factory for a coder argument: a factory as it is; a built coder is
    shipped whole (once per worker: pass a factory to spare the ~100 MB transfer)."""
    return _Given(coder) if hasattr(coder, "code_texts") else coder


class CoderPlugin(WorkerPlugin):
    """Builds the coder once per worker process, also on workers that join later or
    replace a killed one; tasks get it with :func:`worker_coder`."""

    def __init__(self, factory: Callable[[], FactorCoder]) -> None:
        self.factory = factory
        self.coder: FactorCoder | None = None

    def setup(self, worker: Any) -> None:
        self.coder = self.factory()

    def teardown(self, worker: Any) -> None:
        self.coder = None


def register_coder(client: Client, factory: Callable[[], FactorCoder]) -> None:
    """Load the caller's coder on every worker of ``client``'s cluster."""
    client.register_plugin(CoderPlugin(factory), name=CODER_PLUGIN)


def worker_coder() -> FactorCoder:
    """The coder :func:`register_coder` built on this worker."""
    from distributed import get_worker

    return get_worker().plugins[CODER_PLUGIN].coder


# --------------------------------------------------------------------------- code
def code_on_dask(
    client: Client, factory: Callable[[], FactorCoder], texts: list[str], titles: list[str],
    finish: Callable[[list], pd.DataFrame], on_partition: Callable[[int, int], None] | None = None,
) -> list[pd.DataFrame]:
    """``finish(coder.code_texts(...))`` of every chunk of rows, in input order."""
    from reviewmine.engine import run_partitions

    register_coder(client, factory)
    chunks = [(texts[i : i + CODE_PARTITION_ROWS], titles[i : i + CODE_PARTITION_ROWS])
              for i in range(0, len(texts), CODE_PARTITION_ROWS)]
    return run_partitions(client, _code_chunk, chunks, finish, on_partition=on_partition)


def _code_chunk(chunk: tuple[list[str], list[str]], finish: Callable[[list], pd.DataFrame]) -> pd.DataFrame:
    coder = worker_coder()
    texts, titles = chunk
    results = []
    for i in range(0, len(texts), BATCH):  # the batches the local engine codes
        results.extend(coder.code_texts(texts[i : i + BATCH], titles[i : i + BATCH]))
    return finish(results)


# --------------------------------------------------------------------------- analyze
@dataclass(frozen=True)
class ReviewPart:
    """One partition of the processed reviews: some files of a dataset folder (with the
    store/app of their folders), or some row groups of a single file."""

    index: int
    files: tuple[tuple[Path, tuple[tuple[str, str], ...]], ...]
    row_groups: tuple[int, ...] | None = None

    @property
    def name(self) -> str:
        return f"part-{self.index:05d}.parquet"

    def batches(self) -> Iterator[pa.RecordBatch]:
        from reviewmine.analyze.batch import REVIEW_COLUMNS

        for path, folder_values in self.files:
            values = dict(folder_values)
            columns = [c for c in REVIEW_COLUMNS if c not in values]
            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=BATCH, row_groups=self.row_groups, columns=columns):
                arrays = {name: batch.column(name) for name in columns}
                for name, value in values.items():
                    arrays[name] = pa.array([value] * batch.num_rows, pa.string())
                yield pa.RecordBatch.from_pydict({c: arrays[c] for c in REVIEW_COLUMNS})


def review_parts(source: Path, rows_per_part: int = PART_ROWS) -> list[ReviewPart]:
    """The partitions of ``reviews.parquet``: the files of a dataset folder, small ones
    together up to ``rows_per_part`` rows; or row groups of a single file."""
    if not source.is_dir():
        n = pq.ParquetFile(source).metadata.num_row_groups
        return [ReviewPart(i, ((source, ()),), (i,)) for i in range(n)]
    parts, files, rows = [], [], 0
    for path in sorted(source.rglob("*.parquet")):
        values = tuple(tuple(p.split("=", 1)) for p in path.relative_to(source).parts[:-1] if "=" in p)
        files.append((path, values))
        rows += pq.ParquetFile(path).metadata.num_rows
        if rows >= rows_per_part:
            parts.append(ReviewPart(len(parts), tuple(files)))
            files, rows = [], 0
    if files:
        parts.append(ReviewPart(len(parts), tuple(files)))
    return parts


@dataclass(frozen=True)
class _Options:
    languages: tuple[str, ...]
    include_spam: bool
    category: dict
    topics: bool
    seed: int
    staging: str
    schemas: dict
    stamp: dict


def analyze_on_dask(
    client: Client, source: Path, staging: Path, factory: Callable[[], FactorCoder], *,
    languages, include_spam: bool, category: dict, topics: bool, embeddings: str, seed: int,
    summary: AnalyzeSummary, schemas: dict, stamp: dict,
    on_partition: Callable[[int, int], None] | None = None,
) -> None:
    """Write review_scores, codes, sentences (and topics, topic_info, the topic model) into
    ``staging``; fill ``summary``'s counts."""
    from reviewmine.analyze.batch import LANGUAGE_SAMPLE, TOPIC_SAMPLE, KeySample
    from reviewmine.engine import run_partitions
    from reviewmine.process.on_dask import remove_partials

    register_coder(client, factory)
    parts = review_parts(source)
    options = _Options(tuple(languages), include_spam, category, topics, seed, str(staging),
                       schemas, stamp)
    total = len(parts) * (2 if topics else 1)
    done = iter(range(1, total + 1))

    def progress(_done: int, _total: int) -> None:
        if on_partition:
            on_partition(next(done), total)

    results = run_partitions(client, _analyze_part, parts, options, on_partition=progress)
    sample = KeySample(TOPIC_SAMPLE, seed)
    for result in results:
        for name, value in result["counts"].items():
            setattr(summary, name, getattr(summary, name) + value)
        for language, n in result["skipped_by_language"].items():
            summary.skipped_by_language[language] = summary.skipped_by_language.get(language, 0) + n
        summary.skipped_language_sample.extend(result["language_sample"])
        if topics:
            sample.merge(result["sample"])
    summary.skipped_by_language = dict(sorted(summary.skipped_by_language.items(), key=lambda kv: -kv[1]))
    summary.skipped_language_sample = summary.skipped_language_sample[:LANGUAGE_SAMPLE]
    if topics and summary.analysed:
        summary.topics, summary.topic_outlier_share = _topics(
            client, parts, options, sample.items(), embeddings, progress)
    remove_partials(staging)


def _analyze_part(part: ReviewPart, options: _Options) -> dict:
    """Sentiment and codes of one partition (runs on a worker)."""
    from reviewmine.analyze.batch import TOPIC_SAMPLE, AnalyzeSummary, KeySample, analysable, frames
    from reviewmine.analyze.sentences import review_texts

    coder = worker_coder()
    counts = AnalyzeSummary()
    sample = KeySample(TOPIC_SAMPLE, options.seed)
    outputs: dict[str, list[pd.DataFrame]] = {"review_scores": [], "codes": [], "sentences": []}
    for reviews in analysable(part.batches(), options.languages, options.include_spam, counts):
        results = coder.code_texts(reviews["text"].tolist(), reviews["title"].fillna("").tolist())
        scores, codes, sentences = frames(reviews, results, options.category)
        for name, frame in zip(outputs, (scores, codes, sentences), strict=True):
            outputs[name].append(frame)
        counts.analysed += len(reviews)
        counts.with_codes += int((scores["n_codes"] > 0).sum())
        counts.codes += len(codes)
        counts.sentences += len(sentences)
        if options.topics:
            sample.add(reviews["review_key"], review_texts(reviews))
    for name, parts in outputs.items():
        _write_frames(parts, Path(options.staging) / f"{name}.parquet", part.name,
                      options.schemas[name], options.stamp)
    names = ("reviews_in", "skipped_non_english", "skipped_spam", "skipped_empty", "analysed",
             "with_codes", "codes", "sentences")
    return {
        "counts": {n: getattr(counts, n) for n in names},
        "skipped_by_language": counts.skipped_by_language,
        "language_sample": counts.skipped_language_sample,
        "sample": sample,
    }


def _write_frames(frames: list[pd.DataFrame], dataset: Path, name: str, schema: pa.Schema,
                  stamp: dict) -> None:
    from reviewmine.process.on_dask import write_partitioned

    if not frames:
        return
    frame = pd.concat(frames, ignore_index=True)
    table = pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)
    write_partitioned(table, dataset, name, stamp)


def _topics(client: Client, parts: list[ReviewPart], options: _Options, sample: list[str],
            embeddings: str, progress: Callable[[int, int], None]) -> tuple[int, float]:
    """Fit on the client, assign per partition, aggregate the topic table."""
    from reviewmine.analyze.batch import TOPIC_MODEL_DIR, top_coded_factors, write_stamped
    from reviewmine.analyze.topics import ReviewTopicModel, topic_positions
    from reviewmine.engine import run_partitions

    model = ReviewTopicModel(embeddings=embeddings, seed=options.seed).fit(sample)
    labels = model.topic_table()[["topic_id", "label", "factor", "is_emerging"]]
    shipped = client.scatter(model, broadcast=True)  # once per worker, not once per task
    results = run_partitions(client, _assign_topics, parts, shipped, labels, options,
                             on_partition=progress)
    sizes = pd.Series(dtype="int64")
    counts = []
    for result in results:
        sizes = sizes.add(result["sizes"], fill_value=0).astype("int64")
        counts.append(result["counts"])
    counts = pd.concat(counts, ignore_index=True).groupby(["topic_id", "code"], as_index=False)["n"].sum()
    ids = np.repeat(sizes.index.to_numpy(dtype=np.int64), sizes.to_numpy())  # what topic_table counts
    staging = Path(options.staging)
    info = model.topic_table(ids).merge(topic_positions(model), on="topic_id", how="left")
    info = info.merge(top_coded_factors(counts, sizes), on="topic_id", how="left")
    write_stamped(info, staging / "topic_info.parquet", options.stamp)
    model.save(staging / TOPIC_MODEL_DIR)
    n_topics = int((info["topic_id"] != -1).sum())
    n = int(sizes.sum())
    return n_topics, round(float(sizes.get(-1, 0) / n) if n else 0.0, 4)


def _assign_topics(part: ReviewPart, model, labels: pd.DataFrame, options: _Options) -> dict:
    """Topics of one partition, and its counts for the topic table (runs on a worker)."""
    from reviewmine.analyze.batch import analysable, topic_code_counts
    from reviewmine.analyze.sentences import review_texts

    rows, keys, ids = [], [], []
    for reviews in analysable(part.batches(), options.languages, options.include_spam, None):
        topic_ids = model.transform(review_texts(reviews))
        ids.append(topic_ids)
        keys.append(reviews["review_key"].to_numpy())
        frame = reviews[["review_key", "app", "at", "month", "app_version"]].assign(topic_id=topic_ids)
        rows.append(frame.merge(labels, on="topic_id", how="left"))
    staging = Path(options.staging)
    _write_frames(rows, staging / "topics.parquet", part.name, options.schemas["topics"], options.stamp)
    ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    keys = np.concatenate(keys) if keys else np.zeros(0, dtype=object)
    codes = _partition_codes(staging / "codes.parquet", part.name)
    return {"sizes": pd.Series(ids).value_counts(), "counts": topic_code_counts(codes, keys, ids)}


def _partition_codes(dataset: Path, name: str) -> pd.DataFrame:
    """The codes one partition wrote (its file in every store/app folder)."""
    files = sorted(dataset.rglob(name))
    if not files:
        return pd.DataFrame({"review_key": pd.Series(dtype=str), "code": pd.Series(dtype=str)})
    return pd.concat([pd.read_parquet(f, columns=["review_key", "code"]) for f in files], ignore_index=True)
