"""Merge hand-coded batches into the training set ``data/training/coded_reviews.csv``.

    python -m training.build_training_set --dev DEV.csv --batch CODED_BATCH.csv [--batch ...] \
        [--audit AUDIT.csv ...] [--existing data/training/coded_reviews.csv] --out data/training/coded_reviews.csv

A coded batch is a batch drawn by ``training.draw_batches`` with two more columns filled by
its coder: ``codes`` (``code:polarity|...``) and ``evidence`` (the quoted words for each code,
in the same order, separated by `` || ``). An audit file has ``uid, codes, evidence, changed``;
rows with ``changed = yes`` replace the first coding. With ``--existing`` the new batches are
added to the training set already in the repository (its rows are kept as they are), which is
how the set grows: the per-batch files of earlier rounds are not kept in the repository, the
merged file is the record.

Review texts are kept only for rows whose source licence allows redistribution (MIT); for the
other rows the file keeps the id, the codes and the character span of each code's evidence,
and training joins the text from the development corpus by ``uid``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from training.train import MIT_DATASETS


def evidence_spans(full: str, codes: list[str], evidence: str) -> dict:
    """``{code: [start, end]}`` of each code's quoted evidence in ``full`` (None when not found)."""
    phrases = evidence.split(" || ") if evidence else []
    spans = {}
    for i, item in enumerate(codes):
        phrase = phrases[i].split(" ... ")[0].strip() if i < len(phrases) else ""
        at = full.lower().find(phrase.lower()) if phrase else -1
        spans[item.split(":")[0]] = [at, at + len(phrase)] if at >= 0 else None
    return spans


def merge_batches(dev: pd.DataFrame, batches: list[Path], audits: list[Path]) -> pd.DataFrame:
    """Training rows from coded batch files, with audit corrections applied."""
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    audited = {}
    for path in audits:
        for rec in read(path).to_dict("records"):
            if rec["changed"].strip().lower() == "yes":
                audited[rec["uid"]] = rec
    dev = dev.set_index("uid")
    rows = []
    for path in batches:
        for rec in read(path).to_dict("records"):
            rec = audited.get(rec["uid"], rec)
            src = dev.loc[rec["uid"]]
            full = f"{src['title']}. {src['text']}" if src["title"].strip() else src["text"]
            codes = [c for c in rec["codes"].split("|") if c]
            mit = src["dataset"] in MIT_DATASETS
            rows.append({
                "uid": rec["uid"], "dataset": src["dataset"], "app_name": src["app_name"],
                "store": src["store"], "rating": src["rating"],
                "title": src["title"] if mit else "", "text": src["text"] if mit else "",
                "codes": rec["codes"], "evidence_spans": json.dumps(evidence_spans(full, codes, rec["evidence"])),
                "coder_batch": Path(path).stem,
            })
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--batch", type=Path, action="append", required=True, help="coded batch CSV (repeatable)")
    parser.add_argument("--audit", type=Path, action="append", default=[], help="audit CSV (repeatable)")
    parser.add_argument("--existing", type=Path, help="training set to add the batches to")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    dev = pd.read_csv(args.dev, dtype=str, keep_default_na=False)
    new = merge_batches(dev, sorted(args.batch), sorted(args.audit))
    parts = [pd.read_csv(args.existing, dtype=str, keep_default_na=False)] if args.existing else []
    out = pd.concat([*parts, new], ignore_index=True).drop_duplicates("uid")
    out.to_csv(args.out, index=False)
    print(len(out), "reviews;", int((out["text"] != "").sum()), "with text in the repository")


if __name__ == "__main__":
    main()
