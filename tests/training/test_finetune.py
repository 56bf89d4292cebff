"""Fine-tuning the accurate tier's encoder from cached lower-layer states (training/finetune.py)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from training.finetune import finetune, frozen_states  # noqa: E402
from training.train_accurate import MAX_LENGTH, build_encoder, minilm_dir  # noqa: E402

TEXTS = [
    "Too expensive, everything is behind a paywall.",
    "The chatbot understands me and the exercises really helped my anxiety.",
    "Crashes every time I open the journal.",
    "Free and no ads, unlike other apps!",
    "Reminders come at the wrong time of day and I cannot change them.",
    "Love it",
    "My therapist recommended it and it helps between sessions, though syncing fails sometimes.",
    "I could not cancel my subscription and support never answered.",
] * 3


def _targets(n: int, k: int = 3):
    rng = np.random.default_rng(0)
    present = (rng.random((n, k)) < 0.4).astype(np.float32)
    facil = (rng.random((n, k)) < 0.5).astype(np.float32)
    return present, facil, present.copy()


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    out = tmp_path_factory.mktemp("tuned") / "encoder"
    x, how = finetune(minilm_dir(), TEXTS, _targets(len(TEXTS)), np.arange(16), out, MAX_LENGTH, seed=3, epochs=1)
    return x, how, out


def test_the_embeddings_from_cached_states_are_what_the_saved_encoder_computes(tuned):
    """Training runs the top layers on cached lower-layer states (fp16); the exported tier runs
    the whole saved model: both must give the same embedding of every review (to fp16 error)."""
    x, _, out = tuned
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(out / "tokenizer.json"))
    tokenizer.enable_truncation(MAX_LENGTH)
    tokenizer.no_padding()
    encoder = build_encoder(out)
    with torch.inference_mode():
        for i, text in enumerate(TEXTS[:8]):
            ids = torch.tensor([tokenizer.encode(text).ids])
            full = encoder(ids, torch.ones_like(ids)).numpy()[0]
            assert np.allclose(full, x[i], atol=2e-3), (text, float(np.abs(full - x[i]).max()))


def test_only_the_top_layers_change(tuned):
    _, how, out = tuned
    from transformers import AutoModel

    before, after = AutoModel.from_pretrained(str(minilm_dir())), AutoModel.from_pretrained(str(out))
    changed = [
        not torch.equal(a, b) for a, b in zip(before.encoder.layer.parameters(), after.encoder.layer.parameters(), strict=True)
    ]
    per_layer = len(changed) // before.config.num_hidden_layers
    layers = [any(changed[i * per_layer : (i + 1) * per_layer]) for i in range(before.config.num_hidden_layers)]
    assert layers == [False, False, False, False, True, True]
    assert torch.equal(before.embeddings.word_embeddings.weight, after.embeddings.word_embeddings.weight)
    assert how["trained_layers"].startswith("top 2 of 6") and how["training_reviews"] == 16


def test_the_frozen_states_do_not_depend_on_what_is_trained(tuned):
    first = frozen_states(minilm_dir(), TEXTS[:4], MAX_LENGTH)
    again = frozen_states(minilm_dir(), TEXTS[:4], MAX_LENGTH)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert first[0].dtype == np.float16 and first[0].shape[1] == 384


@pytest.fixture(scope="module")
def attended(tmp_path_factory):
    out = tmp_path_factory.mktemp("attended") / "encoder"
    p, how = finetune(minilm_dir(), TEXTS, _targets(len(TEXTS)), np.arange(16), out, MAX_LENGTH, seed=3, epochs=1,
                      attention=True)
    return p, how, out


def test_the_label_attention_tier_exports_what_training_computed(attended, tmp_path):
    """With a label attention head the fine-tuning returns the head's probabilities; the ONNX
    tier built from the saved encoder and head must compute the same for every review."""
    from training.train_accurate import ATTENTION, MAX_LENGTH, _tier_module, export_onnx

    from reviewmine.analyze.accurate import Encoder

    p, how, out = attended
    assert p.shape == (len(TEXTS), 6) and ((p >= 0) & (p <= 1)).all()
    assert how["head"] == "label attention"
    fp32 = export_onnx(_tier_module(out, None, ATTENTION, 3), tmp_path / "tier.onnx")
    for model, tolerance in ((fp32, 2e-3), (tmp_path / "tier.onnx", 0.05)):  # fp32, then int8 weights
        onnx_p = Encoder(model, out / "tokenizer.json", MAX_LENGTH).run(TEXTS)
        assert np.abs(onnx_p - p).max() < tolerance, (model.name, float(np.abs(onnx_p - p).max()))


def test_each_code_attends_to_its_own_tokens(attended):
    """The attention head's token weights differ between codes (one query per code)."""
    from training.finetune import HEAD_FILE, label_attention

    _, _, out = attended
    head = label_attention(384, 3)
    head.load_state_dict(torch.load(out / HEAD_FILE))
    hidden = torch.randn(1, 7, 384)
    scores = head.query(hidden)[0]
    assert not torch.allclose(torch.softmax(scores[:, 0], 0), torch.softmax(scores[:, 1], 0))
