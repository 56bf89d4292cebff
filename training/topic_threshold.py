"""Calibrate the zero-shot topic threshold on the project's hand-coded training set.

Run from the repository root::

    python -m training.topic_threshold --training data/training/coded_reviews.csv \
        --dev PATH/TO/reviews_dev.csv --embeddings static

The chosen value is written into ``ZEROSHOT_THRESHOLDS`` of ``reviewmine/analyze/topics/model.py``
by hand (it is a constant of the shipped model, reviewed like code). Never run it on the
evaluation set.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import Codebook, load_codebook, parse_codes
from reviewmine.analyze.embeddings import BACKENDS, get_embedder
from reviewmine.analyze.topics import CentredEmbedder, zeroshot_descriptions


def calibrate_zeroshot_threshold(
    texts: Sequence[str],
    gold_codes: Sequence[Iterable[str]],
    embeddings: str = "static",
    codebook: Codebook | None = None,
    reference: Sequence[str] | None = None,
    min_precision: float = 0.5,
    grid: Sequence[float] = tuple(np.round(np.arange(0.05, 0.80, 0.01), 2)),
) -> tuple[float, pd.DataFrame]:
    """Choose the zero-shot similarity threshold on hand-coded reviews.

    A review is assigned to its most similar code description when the similarity reaches
    the threshold; it is correct when that code is among its hand codes. Returns the
    lowest threshold from which on precision (over assigned reviews) stays at least
    ``min_precision``, and the whole curve (precision, recall over coded reviews, F1). Vectors are centred on the mean of ``reference``
    (unlabelled reviews, as the model centres on its fitted corpus).
    """
    codebook = codebook or load_codebook()
    embedder = get_embedder(embeddings)
    mean = embedder.encode(list(reference)).mean(axis=0) if reference is not None else None
    embedder = CentredEmbedder(embedder, mean if mean is not None else 0.0)
    code_vectors = embedder.encode(zeroshot_descriptions(codebook))
    sims = embedder.encode(list(texts)) @ code_vectors.T
    best = sims.argmax(axis=1)
    best_sim = sims.max(axis=1)
    correct = np.array([codebook.codes[b].id in set(g) for b, g in zip(best, gold_codes, strict=True)])
    coded = np.array([len(set(g)) > 0 for g in gold_codes])
    rows = []
    for t in grid:
        assigned = best_sim >= t
        hits = int((assigned & correct).sum())
        precision = hits / assigned.sum() if assigned.any() else 0.0
        recall = hits / coded.sum() if coded.any() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows.append(
            {"threshold": float(t), "assigned": int(assigned.sum()), "precision": precision,
             "recall": recall, "f1": f1}
        )
    curve = pd.DataFrame(rows)
    # The lowest threshold from which on precision stays >= min_precision: as many
    # reviews as possible go to codebook topics while most of them go to a right one;
    # the rest is left to free discovery.
    ok = (curve.precision >= min_precision) | (curve.assigned == 0)
    stays = ok[::-1].cummin()[::-1] & (curve.assigned > 0)
    chosen = curve.threshold[stays].min() if stays.any() else curve.threshold.max()
    return float(chosen), curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--training", type=Path, required=True, help="hand-coded training CSV")
    parser.add_argument("--dev", type=Path, required=True, help="development corpus (texts of non-MIT rows; centring)")
    parser.add_argument("--embeddings", choices=sorted(BACKENDS), default="static")
    parser.add_argument("--reference-size", type=int, default=15_000, help="development reviews to centre on")
    args = parser.parse_args()
    from training.train import load_training_set

    df = load_training_set(args.training, args.dev)
    dev = pd.read_csv(args.dev, dtype=str, keep_default_na=False)
    reference = dev["text"].sample(min(args.reference_size, len(dev)), random_state=0).tolist()
    threshold, curve = calibrate_zeroshot_threshold(
        df["text"].tolist(), [parse_codes(c) for c in df["codes"]], args.embeddings, reference=reference
    )
    print(curve.to_string(index=False))
    print(f"threshold for {args.embeddings}: {threshold}")


if __name__ == "__main__":
    main()
