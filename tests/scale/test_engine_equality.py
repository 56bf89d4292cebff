"""``--engine dask`` gives the same answer as ``--engine local``: the processed tables, the
codes, sentiment, sentences and topic assignments are identical after sorting (a
LocalCluster of 2 worker processes), and its outputs are Parquet datasets partitioned by
store/app that pandas and pyarrow read directly."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from tests.scale.conftest import write_corpus

from reviewmine.analyze import analyze
from reviewmine.analyze.coding import code
from reviewmine.process import process
from reviewmine.process.reader import reviews_dataset

ENGINES = ("local", "dask")
SORT_KEYS = ("review_key", "version", "code", "sentence_no", "source_file", "row", "reason")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, cluster) -> dict[str, Path]:
    """One data directory per engine: the same corpus processed and analysed (with topics)."""
    base = tmp_path_factory.mktemp("equality")
    inputs = write_corpus(base / "inputs")
    dirs = {}
    for engine in ENGINES:
        data_dir = base / engine
        data_dir.mkdir()
        scheduler = cluster.scheduler_address if engine == "dask" else None
        process(data_dir, inputs=inputs, include_raw=False, key_file=base / "key", engine=engine,
                scheduler=scheduler)
        analyze(data_dir, engine=engine, scheduler=scheduler)
        dirs[engine] = data_dir
    return dirs


def _table(path: Path) -> pd.DataFrame:
    """A file or a dataset folder, columns and rows in a fixed order."""
    frame = reviews_dataset(path).to_table().to_pandas()
    keys = [c for c in SORT_KEYS if c in frame.columns]
    return frame.sort_values(keys).reset_index(drop=True)[sorted(frame.columns)]


@pytest.mark.parametrize(
    "name",
    ["reviews", "review_versions", "rejects", "review_scores", "codes", "sentences", "topics",
     "topic_info"],
)
def test_every_output_is_identical_on_both_engines(runs, name):
    local, dask = (_table(runs[e] / "processed" / f"{name}.parquet") for e in ENGINES)
    assert len(local)
    if name == "topic_info":
        # the topic map positions x/y only to 1e-6: the local engine computes them after its
        # own topic assignment, whose float32 normalisation of the topic vectors (in place,
        # once per batch) moves them by about 1e-8; the Dask client assigns no topics itself
        pd.testing.assert_frame_equal(local, dask, check_exact=False, rtol=1e-6)
        pd.testing.assert_frame_equal(local.drop(columns=["x", "y"]), dask.drop(columns=["x", "y"]),
                                      check_exact=True)
    else:
        pd.testing.assert_frame_equal(local, dask, check_exact=True)


def test_the_corpus_has_every_dedupe_case(runs):
    """The equality above covers versions, sightings, id-less merges and copy-paste."""
    reviews = _table(runs["dask"] / "processed" / "reviews.parquet")
    versions = _table(runs["dask"] / "processed" / "review_versions.parquet")
    assert (reviews["n_sightings"] > 1).sum() >= 40
    assert len(versions) >= 15 and (reviews["n_versions"] == 2).sum() == len(versions)
    assert reviews["copy_n_apps"].max() == 3 and reviews["is_spam"].any()
    assert reviews["review_key"].is_unique


def _summary(data_dir: Path, name: str, ignore: tuple[str, ...]) -> dict:
    summary = json.loads((data_dir / "processed" / name).read_text())
    return {k: v for k, v in summary.items() if k not in ignore}


def test_the_summaries_count_the_same(runs):
    ignore = ("data_dir", "generation", "seconds", "rows_per_second", "outputs", "run_id",
              "finished_at", "skipped_language_sample")
    for name in ("process_summary.json", "analyze_summary.json"):
        assert _summary(runs["local"], name, ignore) == _summary(runs["dask"], name, ignore)
    analysed = json.loads((runs["dask"] / "processed" / "analyze_summary.json").read_text())
    assert analysed["generation"] == pq.read_schema(
        next((runs["dask"] / "processed" / "reviews.parquet").rglob("*.parquet"))
    ).metadata[b"reviewmine.generation"].decode()


def test_dask_outputs_are_store_app_datasets_that_pandas_and_pyarrow_read(runs):
    folder = runs["dask"] / "processed" / "reviews.parquet"
    assert folder.is_dir()
    files = sorted(folder.rglob("*.parquet"))
    assert all(f.parent.name.startswith("app=") and f.parent.parent.name.startswith("store=") for f in files)
    assert "store" not in pq.read_schema(files[0]).names  # in the folder names only
    by_pandas = pd.read_parquet(folder)
    by_arrow = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
    local = pd.read_parquet(runs["local"] / "processed" / "reviews.parquet")
    assert len(by_pandas) == by_arrow.num_rows == len(local)
    assert sorted(by_pandas["app"].astype(str).unique()) == sorted(local["app"].unique())


def test_code_writes_the_same_file_on_both_engines(tmp_path, cluster, monkeypatch):
    monkeypatch.setattr("reviewmine.analyze.on_dask.CODE_PARTITION_ROWS", 150)  # several tasks
    source = write_corpus(tmp_path / "inputs", n_rows=400, n_files=1)[0]
    outputs = {}
    for engine in ENGINES:
        outputs[engine] = tmp_path / f"coded-{engine}.csv"
        code(source, outputs[engine], id_col="review_id", engine=engine,
             scheduler=cluster.scheduler_address if engine == "dask" else None)
    assert outputs["local"].read_bytes() == outputs["dask"].read_bytes()


def test_the_report_reads_the_dask_datasets(runs):
    from reviewmine.report import report

    out = report(runs["dask"], out=runs["dask"] / "report")
    summary = json.loads((runs["dask"] / "processed" / "analyze_summary.json").read_text())
    apps = pd.read_csv(out / "tables" / "app_summary.csv")
    assert apps["n_analysed"].max() == summary["analysed"]  # the pooled row counts every review
    inputs = json.loads((out / "manifest.json").read_text())["inputs"]
    assert any(entry["path"].endswith("review_scores.parquet") and entry["bytes"] > 0 for entry in inputs)
