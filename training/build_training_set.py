"""Merge hand-coded batches into the training set ``data/training/coded_reviews.csv``.

    python -m training.build_training_set --dev DEV.csv --batch CODED_BATCH.csv [--batch ...] \
        [--audit AUDIT.csv ...] [--existing data/training/coded_reviews.csv] --out data/training/coded_reviews.csv

    python -m training.build_training_set --dev DEV.csv --existing data/training/coded_reviews.csv \
        --audit data/training/audits/rules_recheck.csv --out data/training/coded_reviews.csv

A coded batch is a batch drawn by ``training.draw_batches`` with two more columns filled by
its coder: ``codes`` (``code:polarity|...``) and ``evidence`` (the quoted words for each code,
in the same order, separated by `` || ``). An audit file has ``uid, codes, evidence, changed``
(and may keep ``old_codes`` and the ``rule`` it applied); rows with ``changed = yes`` replace
the coding, in new batches and in the existing training set alike (a re-check of old batches
is an audit of the existing rows). With ``--existing`` the new batches are added to the
training set already in the repository (its rows are kept as they are unless audited), which
is how the set grows: the per-batch files of earlier rounds are not kept in the repository,
the merged file is the record.

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


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def read_audits(audits: list[Path]) -> dict[str, dict]:
    """``{uid: audit row}`` for the rows an audit changed (``changed = yes``)."""
    audited = {}
    for path in audits:
        for rec in _read(path).to_dict("records"):
            if rec["changed"].strip().lower() == "yes":
                audited[rec["uid"]] = rec
    return audited


def full_text(src) -> str:
    """``title + ". " + text`` as the coders read it (the text alone without a title)."""
    return f"{src['title']}. {src['text']}" if src["title"].strip() else src["text"]


def merge_batches(dev: pd.DataFrame, batches: list[Path], audits: list[Path]) -> pd.DataFrame:
    """Training rows from coded batch files, with audit corrections applied."""
    audited = read_audits(audits)
    dev = dev.set_index("uid")
    rows = []
    for path in batches:
        for rec in _read(path).to_dict("records"):
            rec = audited.get(rec["uid"], rec)
            src = dev.loc[rec["uid"]]
            full = full_text(src)
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


def apply_audits(existing: pd.DataFrame, dev: pd.DataFrame, audited: dict[str, dict]) -> pd.DataFrame:
    """The existing training rows with audited codes and evidence spans replaced (texts come
    from the development corpus: the file keeps none for non-MIT rows). A code the audit keeps
    without quoting new evidence keeps its old span, so an audit that only drops codes needs
    no quotes (and redistributes no text of rows whose licence does not allow it)."""
    out = existing.copy()
    dev = dev.set_index("uid")
    for i in out.index[out["uid"].isin(list(audited))]:
        rec = audited[out.at[i, "uid"]]
        codes = [c for c in rec["codes"].split("|") if c]
        old = json.loads(out.at[i, "evidence_spans"] or "{}")
        spans = evidence_spans(full_text(dev.loc[rec["uid"]]), codes, rec["evidence"])
        out.at[i, "codes"] = rec["codes"]
        out.at[i, "evidence_spans"] = json.dumps({c: span or old.get(c) for c, span in spans.items()})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, required=True)
    parser.add_argument("--batch", type=Path, action="append", default=[], help="coded batch CSV (repeatable)")
    parser.add_argument("--audit", type=Path, action="append", default=[], help="audit CSV (repeatable)")
    parser.add_argument("--existing", type=Path, help="training set to add the batches to (audits apply to it too)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.batch and not args.existing:
        parser.error("give --batch, or --existing with --audit to re-check rows already in the set")
    dev = pd.read_csv(args.dev, dtype=str, keep_default_na=False)
    audited = read_audits(sorted(args.audit))
    new = merge_batches(dev, sorted(args.batch), sorted(args.audit))
    parts = [apply_audits(_read(args.existing), dev, audited)] if args.existing else []
    out = pd.concat([*parts, new], ignore_index=True).drop_duplicates("uid")
    unknown = sorted(set(audited) - set(out["uid"]))
    if unknown:
        parser.error(f"{len(unknown)} audited uid(s) are in no batch and not in --existing, e.g. {unknown[0]}")
    changed = int(out["uid"].isin(list(audited)).sum())
    out.to_csv(args.out, index=False)
    print(len(out), "reviews;", int((out["text"] != "").sum()), "with text in the repository;", changed, "audited")


if __name__ == "__main__":
    main()
