"""A Dask LocalCluster of 2 worker processes shared by the scale tests, and a corpus made
from the shipped sample with every case the dedupe handles (repeated sightings, edited
reviews, id-less rows matching a store review, copy-paste across apps), split over several
input files so the Dask engine has several partitions."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pytest

from reviewmine.config import sample_dir


@pytest.fixture(scope="session")
def cluster():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      silence_logs=logging.ERROR) as local_cluster:
        yield local_cluster


def write_corpus(folder: Path, n_rows: int = 600, n_files: int = 4) -> list[Path]:
    """``n_rows`` sample reviews over ``n_files`` CSV files, plus a file of the same reviews
    seen again, edited, without their store id, one text pasted under three apps, and two
    rows to reject."""
    sample = pd.read_csv(sample_dir() / "reviews_sample.csv", dtype=str, keep_default_na=False)
    sample = sample.sample(n_rows, random_state=0).reset_index(drop=True)  # every app
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n_files):
        path = folder / f"part{i}.csv"
        sample.iloc[i::n_files].to_csv(path, index=False)
        paths.append(path)
    seen_again = sample.iloc[0:40]
    edited = sample.iloc[40:70].assign(
        text=lambda d: d["text"] + " Update: it got better after the last release.",
        at=lambda d: (pd.to_datetime(d["at"], utc=True, format="mixed") + pd.Timedelta(days=3)).astype(str),
    )
    id_less = sample.iloc[70:90].assign(review_id="")
    pasted_text = "This app changed my life and I tell everyone about it every single day"
    pasted = sample.iloc[90:93].assign(
        text=pasted_text, review_id=lambda d: "pasted-" + d["review_id"],
        app=["calm", "headspace", "wysa"],
    )
    broken = sample.iloc[93:95].assign(store=["windows_phone", "google_play"], app=["calm", ""])
    extra = folder / "extra.csv"
    pd.concat([seen_again, edited, id_less, pasted, broken]).to_csv(extra, index=False)
    return [*paths, extra]
