"""The accurate coding tier: a fine-tuned sentence encoder ensembled with the fast coder.

How a review is coded (the fast tier's steps are in ``factors``):

1. The title and text go through all-MiniLM-L6-v2 fine-tuned on the project's hand-coded
   reviews (``training/train_accurate.py``), run by onnxruntime as an int8 ONNX model on
   the review's first ``max_length`` tokens: one probability per code that it is present,
   one that it is a facilitator rather than a barrier.
2. The presence probability is blended with the fast coder's (``ensemble_weight``, chosen
   on held-out training data) and a code is assigned when the blend passes the code's
   threshold (chosen there too). Codes the encoder has too few examples of are left to the
   cues, as in the fast tier.
3. The evidence sentence is the one the fast tier's sentence model scores highest for the
   code (cue hits break ties); the polarity is the encoder's; ``scores`` hold the blend.

Sentences, cues and the review sentiment (the domain VADER) are the fast tier's. Weights
load from the package folder only, checked against the SHA-256 their JSON records.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from reviewmine.analyze.codebook import Codebook
from reviewmine.analyze.factors import (
    MAX_CHARS,
    CodedReview,
    CodeHit,
    FactorCoder,
    ReviewReading,
    available_cores,
    combine_presence,
    full_texts,
)
from reviewmine.analyze.sentiment import shipped_model_path
from reviewmine.errors import InputError, ModelError

ACCURATE_MODEL = "coder_accurate.onnx"
ACCURATE_META = "coder_accurate.json"
ACCURATE_TOKENIZER = "coder_accurate_tokenizer.json"
ACCURATE_ACCURACY = "coder_accurate_accuracy.json"
ACCURATE_CROSSAPP = "coder_accurate_crossapp.json"
ACCURATE_ENCODERS = "coder_accurate_encoders.json"
REBUILD = (
    "python -m training.train_accurate model --finetune --training data/training/coded_reviews.csv "
    "--dev reviews_dev.csv --models-dir src/reviewmine/analyze/models"
)
ENCODER_BATCH = 32  # reviews per encoder call, grouped by token length
CODERS = ("fast", "accurate")


def _unusable(path: Path, problem: str) -> ModelError:
    return ModelError(f"accurate coder model {path}: {problem}; rebuild it with '{REBUILD}' or use --coder fast")


class Encoder:
    """An ONNX model over token ids and its tokenizer: texts -> (N, outputs)."""

    def __init__(self, model: Path, tokenizer: Path, max_length: int, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer))
        except Exception as exc:  # the tokenizers package raises plain Exceptions on bad JSON
            raise _unusable(tokenizer, f"cannot be read ({str(exc).splitlines()[0][:80]})") from None
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or available_cores()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise _unusable(model, f"cannot be loaded ({str(exc).splitlines()[0][:80]})") from None
        self.outputs = self.session.get_outputs()[0].shape[-1]

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def run(self, texts: list[str]) -> np.ndarray:
        """Sorted by token length and padded per batch, so short reviews cost little."""
        ids = self.token_ids(texts)
        out = np.zeros((len(ids), self.outputs), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), ENCODER_BATCH):
            batch = order[start : start + ENCODER_BATCH]
            width = max(1, max(len(ids[i]) for i in batch))
            input_ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for row, i in enumerate(batch):
                input_ids[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            out[batch] = self.session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return out


def fast_presence(fast: FactorCoder, fulls: list[str], labels: list[str]) -> np.ndarray:
    """The fast coder's blended presence probability per review for ``labels`` (0 where the
    fast coder has no model for a code)."""
    return _fast_presence(fast, fast.read(fulls), labels)


def _fast_presence(fast: FactorCoder, reading: ReviewReading, labels: list[str]) -> np.ndarray:
    presence = np.zeros((len(reading.sentiments), len(labels)))
    if reading.review_p is None:
        return presence
    fast_index = {c: k for k, c in enumerate(fast.presence.labels)}
    for i, sp in enumerate(reading.sentence_p):
        best = sp.max(axis=0) if len(sp) else np.zeros(len(fast_index))
        blended = combine_presence(reading.review_p[i], best, fast.review_weight)
        for k, code in enumerate(labels):
            if code in fast_index:
                presence[i, k] = blended[fast_index[code]]
    return presence


class AccurateCoder:
    """Code reviews with the accurate tier; the same interface as :class:`FactorCoder`.

    ``threads``: encoder threads in this process (default: every core); a forked coding
    worker uses one, since the workers share the cores.
    """

    def __init__(
        self,
        codebook: Codebook | None = None,
        model_dir: str | Path | None = None,
        fast: FactorCoder | None = None,
        threads: int | None = None,
    ):
        model_dir = Path(model_dir) if model_dir else shipped_model_path(ACCURATE_MODEL).parent
        self.model_path = model_dir / ACCURATE_MODEL
        self.tokenizer_path = model_dir / ACCURATE_TOKENIZER
        meta_path = model_dir / ACCURATE_META
        for path in (self.model_path, self.tokenizer_path, meta_path):
            if not path.is_file():
                raise _unusable(path, "is missing")
        try:
            self.meta = json.loads(meta_path.read_text())
            self.labels: list[str] = list(self.meta["labels"])
            self.thresholds: dict[str, float] = {c: float(self.meta["thresholds"][c]) for c in self.labels}
            self.weight = float(self.meta["ensemble_weight"])
            self.max_length = int(self.meta["max_length"])
            expected = {self.model_path: self.meta["model_sha256"], self.tokenizer_path: self.meta["tokenizer_sha256"]}
        except (ValueError, KeyError, TypeError) as exc:
            raise _unusable(meta_path, f"is not a valid model description ({type(exc).__name__}: {exc})") from None
        for path, digest in expected.items():
            if hashlib.sha256(path.read_bytes()).hexdigest() != digest:
                raise _unusable(path, f"does not match the SHA-256 recorded in {meta_path.name} (corrupt or replaced)")
        self.fast = fast or FactorCoder(codebook)
        self.codebook = self.fast.codebook
        unknown = sorted(set(self.labels) - set(self.codebook.ids))
        if unknown:
            raise ModelError(
                f"accurate coder model {meta_path}: codes {', '.join(unknown)} are not in codebook "
                f"{self.codebook.name!r}; use the codebook it was trained with or --coder fast"
            )
        self.sentiment = self.fast.sentiment
        self.cue_only_codes = set(self.codebook.ids) - set(self.labels)
        self.threads = threads
        self._encoder: Encoder | None = None
        self._encoder_pid: int | None = None
        self._parent_pid = os.getpid()

    @property
    def method(self) -> str:
        return f"encoder+model (ensemble weight {self.weight:g})"

    def encoder(self) -> Encoder:
        """The ONNX session, made in the process that uses it (a session does not survive a fork)."""
        if self._encoder is None or self._encoder_pid != os.getpid():
            threads = self.threads if os.getpid() == self._parent_pid else 1
            self._encoder = Encoder(self.model_path, self.tokenizer_path, self.max_length, threads)
            self._encoder_pid = os.getpid()
        return self._encoder

    def code_texts(self, texts: list[str], titles: list[str] | None = None) -> list[CodedReview]:
        """Code a batch of reviews (``titles`` optional, same length)."""
        titles = titles or [""] * len(texts)
        fulls = full_texts(texts, titles)
        truncated = [len(f) > MAX_CHARS for f in fulls]
        fulls = [f[:MAX_CHARS] for f in fulls]
        k = len(self.labels)
        reading = self.fast.read(fulls)
        fast_p = _fast_presence(self.fast, reading, self.labels)
        sentiments, cue_hits, sentence_p = reading.sentiments, reading.cue_hits, reading.sentence_p
        encoded = self.encoder().run(fulls) if fulls else np.zeros((0, 2 * k))
        probs = self.weight * encoded[:, :k] + (1 - self.weight) * fast_p
        fast_index = {c: j for j, c in enumerate(self.fast.presence.labels)} if self.fast.presence else {}
        # Codes the encoder does not know are found by cues, their polarity by the fast tier's model.
        by_cues = [
            [c for c in self.fast._decide_cues(r.sentences, hits) if c[0] in self.cue_only_codes]
            for r, hits in zip(sentiments, cue_hits, strict=True)
        ]
        cue_polarities = iter(self.fast._polarities(by_cues, sentiments))
        results = []
        for i in range(len(fulls)):
            sents = sentiments[i].sentences
            hits = [
                CodeHit(code, next(cue_polarities), prob, sents[j][0], cue_hits[i][j].get(code, []), sents[j][1])
                for code, prob, j in by_cues[i]
            ]
            if sents:
                for m, code in enumerate(self.labels):
                    if probs[i, m] < self.thresholds[code]:
                        continue
                    j = self._evidence(code, sentence_p[i], fast_index, cue_hits[i])
                    polarity = "facilitator" if encoded[i, k + m] >= 0.5 else "barrier"
                    hits.append(CodeHit(code, polarity, float(probs[i, m]), sents[j][0],
                                        cue_hits[i][j].get(code, []), sents[j][1]))
            results.append(CodedReview(hits, sentiments[i].score, len(sents), truncated[i], sentiments[i]))
        return results

    @staticmethod
    def _evidence(code: str, sentence_p: np.ndarray, fast_index: dict[str, int], cue_hits: list[dict]) -> int:
        """The sentence the fast tier's sentence model scores highest for ``code`` (cue hits
        break ties; the first sentence with a cue when the sentence model lacks the code)."""
        bonus = np.array([0.25 if code in h else 0.0 for h in cue_hits])
        scores = sentence_p[:, fast_index[code]] + bonus if code in fast_index else bonus
        return int(np.argmax(scores))


def make_coder(coder: str, codebook: Codebook | None = None, use_model: bool = True) -> FactorCoder | AccurateCoder:
    """The coder a ``--coder`` value names (``fast`` or ``accurate``)."""
    if coder == "fast":
        return FactorCoder(codebook, use_model=use_model)
    if coder not in CODERS:
        raise InputError(f"--coder {coder!r}: unknown coder; use one of {', '.join(CODERS)}")
    if not use_model:
        raise InputError("--no-model with --coder accurate: the accurate coder is a model; use --coder fast --no-model for cues only")
    return AccurateCoder(codebook)
