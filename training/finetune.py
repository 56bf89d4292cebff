"""Fine-tune the top layers of the accurate tier's sentence encoder on the coded reviews.

The lower layers stay frozen, so their output is computed once and kept in memory; each
epoch then runs only the trained top layers (forward and backward) and a presence +
polarity head per code. On a 2-core machine that turns a full fine-tune (hours) into
minutes per epoch. The fine-tuned encoder is saved as a Hugging Face model folder, from
which ``train_accurate`` embeds the reviews, fits the tier's head and exports the ONNX file.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

TOP_LAYERS = 2  # of MiniLM's 6: trained; the 4 below stay frozen
EPOCHS = 3
BATCH = 32
LR_LAYERS = 1e-4
LR_HEAD = 2e-3
STATE_BATCH = 64
HEAD_FILE = "label_attention.pt"  # the attention head, saved beside the fine-tuned encoder


def torch_2_threads():
    """torch, set to this machine's 2 cores (imported late: only training needs it)."""
    import torch

    torch.set_num_threads(2)
    return torch


def tokenizer(encoder_dir: Path, max_length: int):
    """The encoder's tokenizer, unpadded, cut at ``max_length`` tokens."""
    from tokenizers import Tokenizer

    loaded = Tokenizer.from_file(str(encoder_dir / "tokenizer.json"))
    loaded.no_padding()
    loaded.enable_truncation(max_length)
    return loaded


def token_ids(encoder_dir: Path, texts: list[str], max_length: int) -> list[list[int]]:
    return [e.ids for e in tokenizer(encoder_dir, max_length).encode_batch(texts)]


def _length_batches(lengths: list[int], size: int) -> list[np.ndarray]:
    order = np.argsort(lengths, kind="stable")
    return [order[s : s + size] for s in range(0, len(order), size)]


def _pad(ids: list[list[int]], batch: np.ndarray):
    torch = torch_2_threads()
    width = max(1, max(len(ids[i]) for i in batch))
    input_ids = torch.zeros((len(batch), width), dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        input_ids[row, : len(ids[i])] = torch.tensor(ids[i])
        mask[row, : len(ids[i])] = 1
    return input_ids, mask


def lower_states(model, ids: list[list[int]], frozen: int) -> list[np.ndarray]:
    """Per review, the (tokens, dims) output of the ``frozen`` lower layers (fp16 to save memory)."""
    torch = torch_2_threads()
    out: list[np.ndarray] = [np.zeros(0)] * len(ids)
    with torch.inference_mode():
        for batch in _length_batches([len(x) for x in ids], STATE_BATCH):
            input_ids, mask = _pad(ids, batch)
            hidden = model(
                input_ids=input_ids, attention_mask=mask, token_type_ids=torch.zeros_like(input_ids),
                output_hidden_states=True,
            ).hidden_states[frozen]
            for row, i in enumerate(batch):
                out[i] = hidden[row, : len(ids[i])].numpy().astype(np.float16)
    return out


def masked_mean(hidden, mask):
    """Mean of the token states ``hidden`` (B, T, D) over the tokens ``mask`` (B, T) keeps:
    the sentence embedding the encoder is trained and exported with."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)


def label_attention(dims: int, k: int):
    """A head that reads a review's token states once per code: each code has its own
    attention over the tokens (what the review says about that factor, wherever in a long
    review it is), and a presence and a facilitator logit from what it attends to, plus a
    linear term of the mean-pooled state. ``forward(hidden, mask)`` -> (B, 2K) logits."""
    torch = torch_2_threads()

    class LabelAttention(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.query = torch.nn.Linear(dims, k)
            self.weight = torch.nn.Parameter(torch.randn(2, k, dims) * dims**-0.5)
            self.pooled = torch.nn.Linear(dims, 2 * k)

        def forward(self, hidden, mask):
            scores = self.query(hidden).masked_fill(mask.unsqueeze(-1) == 0, -1e4)  # (B, T, K)
            context = torch.einsum("btk,btd->bkd", torch.softmax(scores, dim=1), hidden)
            attended = torch.einsum("bkd,pkd->bpk", context, self.weight).flatten(1)  # (B, 2K)
            return attended + self.pooled(masked_mean(hidden, mask))

    return LabelAttention()


def _top(model, states: list[np.ndarray], batch: np.ndarray, frozen: int, tokens: bool = False):
    """Mean-pooled output of the top layers for the reviews in ``batch`` (``tokens``: the
    token states and their mask instead)."""
    torch = torch_2_threads()
    from transformers.masking_utils import create_bidirectional_mask

    width = max(1, max(len(states[i]) for i in batch))
    hidden = torch.zeros((len(batch), width, states[batch[0]].shape[1]), dtype=torch.float32)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        hidden[row, : len(states[i])] = torch.from_numpy(states[i].astype(np.float32))
        mask[row, : len(states[i])] = 1
    attention = create_bidirectional_mask(config=model.config, inputs_embeds=hidden, attention_mask=mask)
    for layer in model.encoder.layer[frozen:]:
        out = layer(hidden, attention_mask=attention)
        hidden = out[0] if isinstance(out, tuple) else out
    return (hidden, mask) if tokens else masked_mean(hidden, mask)


def _logits(model, head, states, rows, frozen: int, attention: bool):
    """The head's (B, 2K) logits for ``rows``: on the mean-pooled state, or (``attention``)
    on the token states."""
    if attention:
        return head(*_top(model, states, rows, frozen, tokens=True))
    return head(_top(model, states, rows, frozen))


def head_probabilities(model, head, states: list[np.ndarray], frozen: int) -> np.ndarray:
    """(N, 2K) presence and facilitator probabilities of the fine-tuned attention head."""
    torch = torch_2_threads()
    model.eval()
    head.eval()
    out = np.zeros((len(states), head.pooled.out_features), dtype=np.float32)
    with torch.inference_mode():
        for batch in _length_batches([len(s) for s in states], STATE_BATCH):
            out[batch] = torch.sigmoid(_logits(model, head, states, batch, frozen, True)).numpy()
    return out


def pooled(model, states: list[np.ndarray], frozen: int) -> np.ndarray:
    """(N, dims) mean-pooled embeddings of every review from its cached lower states."""
    torch = torch_2_threads()
    model.eval()
    out = np.zeros((len(states), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for batch in _length_batches([len(s) for s in states], STATE_BATCH):
            out[batch] = _top(model, states, batch, frozen).numpy()
    return out


def _train_epochs(model, head, states, present, facil, known, train_rows, frozen, epochs, seed, attention=False):
    torch = torch_2_threads()
    trained = [p for layer in model.encoder.layer[frozen:] for p in layer.parameters()]
    optimiser = torch.optim.AdamW(
        [{"params": trained, "lr": LR_LAYERS}, {"params": head.parameters(), "lr": LR_HEAD}], weight_decay=0.01
    )
    k = present.shape[1]
    bce = torch.nn.BCEWithLogitsLoss(reduction="none")
    rng = np.random.default_rng(seed)
    batches = _length_batches([len(states[i]) for i in train_rows], BATCH)
    total = epochs * len(batches)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (step + 1) / (0.06 * total)) * max(0.0, (total - step) / total)
    )
    started = time.monotonic()
    for epoch in range(epochs):
        model.train()
        head.train()
        losses = []
        for b in rng.permutation(len(batches)):
            rows = train_rows[batches[b]]
            logits = _logits(model, head, states, rows, frozen, attention)
            m = known[rows]
            loss = bce(logits[:, :k], present[rows]).mean() + (bce(logits[:, k:], facil[rows]) * m).sum() / m.sum().clamp(min=1.0)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trained + list(head.parameters()), 1.0)
            optimiser.step()
            schedule.step()
            losses.append(loss.item())
        print(f"fine-tune epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f} "
              f"({(time.monotonic() - started) / 60:.1f} min)", flush=True)


def _load(encoder_dir: Path, top_layers: int):
    """The encoder with every parameter frozen except the top ``top_layers`` layers'."""
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(encoder_dir), attn_implementation="eager").eval()
    frozen = model.config.num_hidden_layers - top_layers
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in model.encoder.layer[frozen:]:
        for p in layer.parameters():
            p.requires_grad_(True)
    return model, frozen


def frozen_states(encoder_dir: Path, texts: list[str], max_length: int, top_layers: int = TOP_LAYERS) -> list[np.ndarray]:
    """What the frozen lower layers make of every text: the same whatever the top layers
    are trained on, so leave-one-app-out computes it once."""
    started = time.monotonic()
    model, frozen = _load(encoder_dir, top_layers)
    states = lower_states(model, token_ids(encoder_dir, texts, max_length), frozen)
    print(f"lower-layer states of {len(texts):,} reviews ({(time.monotonic() - started) / 60:.1f} min)", flush=True)
    return states


def finetune(
    encoder_dir: Path, texts: list[str], targets: tuple[np.ndarray, np.ndarray, np.ndarray], train_rows: np.ndarray,
    out_dir: Path | None, max_length: int, seed: int, top_layers: int = TOP_LAYERS, epochs: int = EPOCHS,
    states: list[np.ndarray] | None = None, attention: bool = False,
) -> tuple[np.ndarray, dict]:
    """Fine-tune the top ``top_layers`` of the encoder in ``encoder_dir`` on ``train_rows`` of
    ``texts`` (presence, facilitator, polarity-known targets as ``train_accurate._targets``),
    save it to ``out_dir`` (None: not saved) and return every review's embedding from it with
    a description. ``states``: ``frozen_states`` of ``texts`` when already computed.

    ``attention``: the head trained with the encoder is ``label_attention`` (a linear layer on
    the mean-pooled state otherwise); it is kept (``out_dir/HEAD_FILE``) and what is returned
    is every review's (N, 2K) presence and facilitator probabilities from it."""
    torch = torch_2_threads()

    torch.manual_seed(seed)
    started = time.monotonic()
    if states is None:
        states = frozen_states(encoder_dir, texts, max_length, top_layers)
    model, frozen = _load(encoder_dir, top_layers)
    present, facil, known = (torch.tensor(a) for a in targets)
    dims, k = model.config.hidden_size, present.shape[1]
    head = label_attention(dims, k) if attention else torch.nn.Linear(dims, 2 * k)
    _train_epochs(model, head, states, present, facil, known, np.asarray(train_rows), frozen, epochs, seed, attention)
    x = head_probabilities(model, head, states, frozen) if attention else pooled(model, states, frozen)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out_dir))
        shutil.copy(encoder_dir / "tokenizer.json", out_dir / "tokenizer.json")
        if attention:
            torch.save(head.state_dict(), out_dir / HEAD_FILE)
    description = {
        "trained_layers": (f"top {top_layers} of {model.config.num_hidden_layers} (the rest frozen)"
                           if top_layers < model.config.num_hidden_layers else f"all {top_layers}"),
        "top_layers": top_layers, "head": "label attention" if attention else "linear on the mean-pooled state",
        "epochs": epochs, "batch": BATCH, "lr_layers": LR_LAYERS, "lr_head": LR_HEAD,
        "training_reviews": int(len(train_rows)), "minutes": round((time.monotonic() - started) / 60, 1),
    }
    return x, description
