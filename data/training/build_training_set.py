"""Merge the hand-coded batches into ``coded_reviews.csv`` (run from the repository root).

Review texts are kept in the repository only for rows whose source licence allows
redistribution (MIT); for the other rows the file keeps the id, the codes and the
character span of each code's evidence, and training joins the text from
``../shared/data/reviews_dev.csv`` by ``uid``.
"""

import glob
import json
import sys

import pandas as pd

from reviewmine.analyze.train import MIT_DATASETS as MIT

dev = pd.read_csv(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/reviews_dev.csv",
                  dtype=str, keep_default_na=False).set_index("uid")
# Second-coder audit: corrections (rows marked changed) replace the first coding.
audited = {}
for path in sorted(glob.glob("data/training/audit/audited*.csv")):
    for rec in pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records"):
        if rec["changed"].strip().lower() == "yes":
            audited[rec["uid"]] = rec
rows = []
for path in sorted(glob.glob("data/training/coded/batch*.csv")):
    batch = path.rsplit("/", 1)[1].removesuffix(".csv")
    coded = pd.read_csv(path, dtype=str, keep_default_na=False)
    for rec in coded.to_dict("records"):
        rec = audited.get(rec["uid"], rec)
        src = dev.loc[rec["uid"]]
        full = f"{src['title']}. {src['text']}" if src["title"].strip() else src["text"]
        codes = [c for c in rec["codes"].split("|") if c]
        phrases = rec["evidence"].split(" || ") if rec["evidence"] else []
        spans = {}
        for i, item in enumerate(codes):
            phrase = phrases[i].split(" ... ")[0].strip() if i < len(phrases) else ""
            at = full.lower().find(phrase.lower()) if phrase else -1
            spans[item.split(":")[0]] = [at, at + len(phrase)] if at >= 0 else None
        mit = src["dataset"] in MIT
        rows.append({
            "uid": rec["uid"], "dataset": src["dataset"], "app_name": src["app_name"],
            "store": src["store"], "rating": src["rating"],
            "title": src["title"] if mit else "", "text": src["text"] if mit else "",
            "codes": rec["codes"], "evidence_spans": json.dumps(spans), "coder_batch": batch,
        })
out = pd.DataFrame(rows).drop_duplicates("uid")
out.to_csv("data/training/coded_reviews.csv", index=False)
print(len(out), "reviews;", (out["text"] != "").sum(), "with text in the repository")
