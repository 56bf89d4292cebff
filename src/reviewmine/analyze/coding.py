"""``reviewmine code``: code any CSV of short texts with the engagement-factor codebook."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd

from reviewmine.analyze.accurate import AccurateCoder, make_coder
from reviewmine.analyze.codebook import load_codebook
from reviewmine.analyze.factors import BATCH, CodedReview, FactorCoder, code_batches
from reviewmine.config import default_data_dir
from reviewmine.engine import CoderFactory
from reviewmine.io import read_table, refuse_overwrite, remove_stale_temps, stage_dirs, write_frame


def coded_rows(results: list[CodedReview]) -> pd.DataFrame:
    """One row per review: serialised codes, sentiment, and the audit trail per code."""
    return pd.DataFrame(
        {
            "codes": [r.serialised for r in results],
            "sentiment": [round(r.sentiment, 4) for r in results],
            "n_codes": [len(r.codes) for r in results],
            "evidence": [
                json.dumps({h.code: h.evidence for h in r.codes}, ensure_ascii=False) for r in results
            ],
            "cues": [
                json.dumps({h.code: h.cues for h in r.codes if h.cues}, ensure_ascii=False)
                for r in results
            ],
            "scores": [
                json.dumps({h.code: round(h.probability, 3) for h in r.codes}) for r in results
            ],
            "truncated": [r.truncated for r in results],
        }
    )


def code(
    input: str | Path,
    out: str | Path,
    text_col: str = "text",
    id_col: str = "uid",
    title_col: str | None = None,
    codebook: str | Path | None = None,
    use_model: bool = True,
    coder: str | FactorCoder | AccurateCoder | Callable[[], FactorCoder | AccurateCoder] = "fast",
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    on_message: Callable[[str], None] | None = None,
    on_partition: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Code every row of ``input`` and write ``out`` (CSV, or Parquet by suffix).

    The title is read from ``title_col`` (an error if that column is missing), or from a
    column named ``title`` when there is one, as ``evaluate`` does. The output has one row
    per input row: ``uid`` (from ``id_col``), ``codes`` (``code:polarity|...``), ``sentiment`` in [-1, 1], and per code the evidence
    sentence, the cues that fired and the model probability (JSON columns).

    A CSV ``out`` keeps its text raw (no ``'`` before ``=``/``+``/``-``/``@``): it is an
    interface other tools read, and its free text sits inside JSON columns that start with
    ``{``; write ``.xlsx`` to open it in a spreadsheet.

    ``coder``: ``fast`` (the linear coder, thousands of reviews a second), ``accurate`` (a
    sentence encoder ensembled with it, slower, more accurate: see docs/coder-accuracy.md),
    a built coder, or a zero-argument factory of one. With ``engine="dask"`` the rows are
    coded in chunks on a Dask cluster (``scheduler``, :mod:`reviewmine.engine`), the coder
    built once per worker from the factory (a built coder is shipped to each worker whole);
    the output is the same file. ``on_message`` receives the dashboard link,
    ``on_partition`` (chunks done, chunks in all).
    """
    from reviewmine.engine import check_engine

    check_engine(engine, scheduler)
    refuse_overwrite(out, [input, codebook], stage_dirs(default_data_dir()))
    remove_stale_temps(Path(out).parent, Path(out).name)  # what a killed run left beside ``out``
    df = read_table(input, required=[text_col, id_col, title_col or ""])
    if title_col is None and "title" in df.columns:
        title_col = "title"
    if isinstance(coder, str):
        tier = {"coder": coder, "codebook": load_codebook(codebook) if codebook else None, "use_model": use_model}
        coder = CoderFactory(make_coder, tier)
        if engine == "dask":
            coder()  # a bad tier or a missing model file: one line here, not a failure on every worker
    texts = df[text_col].fillna("").astype(str).tolist()
    titles = df[title_col].fillna("").astype(str).tolist() if title_col else [""] * len(texts)
    if engine == "dask":
        from reviewmine.analyze.on_dask import code_on_dask, coder_factory
        from reviewmine.engine import dask_client

        with dask_client(scheduler, on_message) as client:
            parts = code_on_dask(client, coder_factory(coder), texts, titles, coded_rows, on_partition)
    else:
        if not hasattr(coder, "code_texts"):
            coder = coder()
        parts = list(code_batches(coder, text_batches(texts, titles), workers, finish=coded_rows))
    result = pd.concat(parts, ignore_index=True) if parts else coded_rows([])
    result.insert(0, "uid", df[id_col].astype(str).to_numpy())
    write_frame(result, out, csv_raw_text=True)
    return result


def text_batches(texts: list[str], titles: list[str] | None = None) -> Iterator[tuple[list[str], list[str] | None]]:
    """``(texts, titles)`` in batches of ``BATCH`` reviews, as :func:`code_batches` takes them."""
    for i in range(0, len(texts), BATCH):
        yield texts[i : i + BATCH], titles[i : i + BATCH] if titles is not None else None
