"""Topic modelling: speed and quality of `reviewmine topics` vs the default BERTopic stack.

Usage: .venv/bin/python benchmarks/bench_topics.py [REVIEWS.csv] [--baseline-n 3000]

Prints, in one run on ../shared/data/reviews_dev.csv (~42k real reviews):
- wall time of the whole `reviewmine topics` command (new process: imports, reading,
  embedding with an empty embedding cache, fitting, assigning, writing) and of the default
  BERTopic stack (all-MiniLM-L6-v2 + UMAP + HDBSCAN defaults) on a random subset, scaled
  linearly to the full corpus (UMAP and HDBSCAN grow faster than linearly, so the scaled
  baseline time and the ratio are lower bounds); the baseline's import time is added once;
- topic quality: mean NPMI of the top-10 words (document co-occurrence over the whole
  corpus), topic diversity, outlier share, for both;
- reproducibility: the same seed twice, and adjusted Rand index across 3 seeds;
- reviews vs sentences as the unit (NPMI on the review corpus);
- on the hand-coded gold_dev.csv (if present): how often a review's topic factor is one of
  its hand codes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DEV = ROOT.parent / "shared" / "data" / "reviews_dev.csv"
GOLD = ROOT.parent / "shared" / "data" / "gold_dev.csv"


def quality(words: list[list[str]], corpus: list[str], analyzer) -> tuple[float, float]:
    from reviewmine.analyze.topic_metrics import npmi_coherence, topic_diversity

    words = [w for w in words if w]
    return float(np.mean(npmi_coherence(words, corpus, analyzer))), topic_diversity(words)


def run_ours(path: Path, cache: Path) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(prefix="bench-topics-"))
    env = dict(os.environ, REVIEWMINE_CACHE_DIR=str(cache))
    start = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).parent / "reviewmine"), "topics", str(path), "--text-col", "text",
         "--out", str(out), "--seed", "42"],
        check=True, env=env, capture_output=True,
    )
    return time.perf_counter() - start, out


def run_baseline(texts: list[str], n: int, seed: int = 42) -> dict:
    start = time.perf_counter()
    from bertopic import BERTopic
    from sentence_transformers import SentenceTransformer

    from reviewmine.analyze.embeddings import minilm_path

    import_time = time.perf_counter() - start
    rng = np.random.default_rng(seed)
    subset = [texts[i] for i in rng.choice(len(texts), n, replace=False)]
    start = time.perf_counter()
    model = BERTopic(embedding_model=SentenceTransformer(str(minilm_path()), device="cpu"))
    topics, _ = model.fit_transform(subset)
    fit_time = time.perf_counter() - start
    words = [[w for w, _ in model.get_topic(t) if w][:10] for t in sorted(set(topics)) if t != -1]
    return {"import": import_time, "fit": fit_time, "n": n, "words": words,
            "outliers": float(np.mean(np.array(topics) == -1)), "vectorizer": model.vectorizer_model}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("reviews", nargs="?", default=str(DEV))
    parser.add_argument("--baseline-n", type=int, default=3000)
    args = parser.parse_args()
    path = Path(args.reviews)

    from reviewmine.analyze.embeddings import STATIC_MODEL_NAME
    from reviewmine.config import cache_dir

    texts = pd.read_csv(path, dtype=str, keep_default_na=False)["text"].tolist()
    print(f"corpus: {path.name}, {len(texts):,} reviews")

    # 1. Our command, in a new process, with the distilled model present but no cached embeddings.
    cache = Path(tempfile.mkdtemp(prefix="bench-cache-"))
    built = cache_dir() / "models" / STATIC_MODEL_NAME
    if built.is_dir():
        shutil.copytree(built, cache / "models" / STATIC_MODEL_NAME)
    ours_time, out = run_ours(path, cache)
    rerun_time, _ = run_ours(path, cache)
    table = pd.read_csv(out / "topics.csv", keep_default_na=False)
    assignments = pd.read_csv(out / "assignments.csv")

    from reviewmine.analyze.topics import ReviewTopicModel, clean_for_words

    model = ReviewTopicModel.load(out / "model")
    cleaned = [clean_for_words(t) for t in texts]
    ours_words = [[w.replace("_", " ") for w in s.split()] for s in table.words if s]
    ours_npmi, ours_div = quality(ours_words, cleaned, model.vectorizer(model.vocabulary_).build_analyzer())
    ours_outliers = float((assignments.topic_id == -1).mean())

    # 2. The default stack on a subset, scaled linearly.
    base = run_baseline(texts, min(args.baseline_n, len(texts)))
    scaled = base["import"] + base["fit"] * len(texts) / base["n"]
    base_npmi, base_div = quality(base["words"], texts, base["vectorizer"].build_analyzer())

    print("\n== speed ==")
    print(f"reviewmine topics (static, whole run, new process): {ours_time:6.1f} s "
          f"(rerun with cached embeddings {rerun_time:.1f} s)")
    print(f"default BERTopic (MiniLM+UMAP+HDBSCAN): {base['fit']:.1f} s on {base['n']:,} reviews "
          f"+ {base['import']:.1f} s import -> {scaled:.0f} s scaled to {len(texts):,}")
    print(f"speed-up: {scaled / ours_time:.1f}x (target >= 20x)")

    print("\n== quality (top-10 words, NPMI by document co-occurrence over the whole corpus) ==")
    n_topics = int((table.topic_id != -1).sum())
    print(f"ours:     topics {n_topics}, NPMI {ours_npmi:.3f}, diversity {ours_div:.2f} (target >= 0.7), "
          f"outliers {ours_outliers:.1%} (target <= 20%)")
    print(f"          codebook topics {int(table.is_zeroshot.sum())}, mapped to a factor "
          f"{int((table.factor != '').sum())}, emerging {int(table.is_emerging.sum())}")
    print(f"default:  topics {len(base['words'])}, NPMI {base_npmi:.3f}, diversity {base_div:.2f}, "
          f"outliers {base['outliers']:.1%} (on its subset)")

    # 3. Reproducibility, in-process (embeddings cached by now).
    os.environ["REVIEWMINE_CACHE_DIR"] = str(cache)
    from sklearn.metrics import adjusted_rand_score

    runs = {}
    for seed in (42, 42, 43, 44):
        key = seed if seed not in runs else f"{seed}-again"
        runs[key] = ReviewTopicModel(seed=seed).fit_transform(texts)
    same = bool((runs[42] == runs["42-again"]).all())
    aris = [adjusted_rand_score(runs[a], runs[b]) for a, b in combinations((42, 43, 44), 2)]
    print("\n== reproducibility ==")
    print(f"same seed twice: identical assignments = {same}")
    print(f"3 seeds (42, 43, 44): adjusted Rand index mean {np.mean(aris):.3f} "
          f"(min {min(aris):.3f}, max {max(aris):.3f})")

    # 4. Reviews vs sentences as the unit of the topic model.
    from reviewmine.analyze.sentences import split_sentences

    sentences = [s for t in texts for s in split_sentences(t)]
    sent_model = ReviewTopicModel(seed=42).fit(sentences)
    sent_words = [[w.replace("_", " ") for w in s.split()] for s in sent_model.topic_table().words if s]
    sent_npmi, sent_div = quality(sent_words, cleaned, sent_model.vectorizer(sent_model.vocabulary_).build_analyzer())
    print("\n== unit ==")
    print(f"reviews:   NPMI {ours_npmi:.3f}, diversity {ours_div:.2f}")
    print(f"sentences: NPMI {sent_npmi:.3f}, diversity {sent_div:.2f} ({len(sentences):,} sentences)")

    # 5. Topic factors against hand codes (gold is used for nothing else here).
    if GOLD.is_file():
        from reviewmine.analyze.codebook import parse_codes

        gold = pd.read_csv(GOLD)
        ids = model.transform(gold.text.tolist())
        factors = [model.topic_factor_.get(int(t)) for t in ids]
        codes = [set(parse_codes(c)) for c in gold.codes]
        mapped = [(f, c) for f, c in zip(factors, codes, strict=True) if f]
        hits = sum(f in c for f, c in mapped)
        print("\n== topics vs hand codes (gold_dev.csv) ==")
        print(f"{len(gold)} reviews: {len(mapped)} in a topic mapped to a factor; that factor is one "
              f"of the hand codes for {hits} ({hits / max(len(mapped), 1):.0%}); "
              f"reviews whose hand codes include it: {hits / len(gold):.0%}")

        # The coder's view of each topic (topic_info's coded_factor): the code found most
        # often in the topic's reviews of the corpus.
        from reviewmine.analyze.coding import text_batches
        from reviewmine.analyze.factors import FactorCoder, code_batches
        from reviewmine.analyze.pipeline import coded_factors

        coded = [r for results in code_batches(FactorCoder(), text_batches(texts)) for r in results]
        codes = pd.DataFrame([(i, h.code) for i, r in enumerate(coded) for h in r.codes], columns=["review_key", "code"])
        top = coded_factors(codes, np.arange(len(texts)), model.transform(texts))
        coded_factor = dict(zip(top["topic_id"], top["coded_factor"], strict=True))
        with_coded = [(coded_factor.get(int(t)), c) for t, c in zip(ids, codes, strict=True) if int(t) != -1]
        coded_hits = sum(f in c for f, c in with_coded if f)
        agree = sum(coded_factor.get(t) == f for t, f in model.topic_factor_.items() if f)
        print(f"coded_factor: {len(with_coded)} reviews in a topic; its coded factor is one of the hand "
              f"codes for {coded_hits} ({coded_hits / max(len(with_coded), 1):.0%}); "
              f"embedding factor = coded factor for {agree} of {sum(1 for f in model.topic_factor_.values() if f)} mapped topics")
    shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
