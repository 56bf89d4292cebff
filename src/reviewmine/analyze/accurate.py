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
3. The codebook's rules decide as in the fast tier: a chatbot code needs words about a
   conversational agent (R5), a code named only in another sense ("a good reminder to
   breathe") is dropped (R7), a review of at most three words keeps one code its words name
   (R4), and the encoder's polarity is turned where money praise (R1), a contrast with other
   apps (R2) or a negated problem word (R3) says so.
4. The evidence sentence is the one the fast tier's sentence model scores highest for the
   code (cue hits break ties); ``scores`` hold the blend.

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
        reading = self.fast.read(fulls)
        encoded = self.encoder().run(fulls) if fulls else np.zeros((0, 2 * len(self.labels)))
        decided = decide_codes(self.fast, self.labels, self.thresholds, self.weight, fulls, reading, encoded)
        results = []
        for i, chosen in enumerate(decided):
            sents, hits = reading.sentiments[i].sentences, reading.cue_hits[i]
            codes = [CodeHit(code, polarity, prob, sents[j][0], hits[j].get(code, []), sents[j][1])
                     for code, prob, j, polarity in chosen]
            results.append(CodedReview(codes, reading.sentiments[i].score, len(sents), truncated[i], reading.sentiments[i]))
        return results


def decide_codes(
    fast: FactorCoder, labels: list[str], thresholds: dict[str, float], weight: float, fulls: list[str],
    reading: ReviewReading, encoded: np.ndarray,
) -> list[list[tuple[str, float, int, str]]]:
    """(code, probability, evidence sentence, polarity) of every review, from the encoder's
    (N, 2K) presence and facilitator probabilities for ``labels`` blended with ``fast``'s
    presence (``weight`` the encoder's share) and cut at ``thresholds``; the codes ``labels``
    lacks are found by cues, their polarity by the fast tier's model. Training's leave-one-app-
    out run decides with this too, so it measures the tier as it codes."""
    k = len(labels)
    probs = weight * encoded[:, :k] + (1 - weight) * _fast_presence(fast, reading, labels)
    cue_only = set(fast.codebook.ids) - set(labels)
    decisions = [_decide(fast, labels, thresholds, cue_only, fulls[i], probs[i], reading, i) for i in range(len(fulls))]
    cue_polarities = iter(fast._polarities([[c for c in d if c[0] in cue_only] for d in decisions], reading.sentiments))
    facilitator = {c: m for m, c in enumerate(labels)}
    out = []
    for i, chosen in enumerate(decisions):
        sents = reading.sentiments[i].sentences
        decided = []
        for code, prob, j in chosen:
            if code in cue_only:
                polarity = next(cue_polarities)
            else:  # the encoder's, under the codebook's polarity rules (R1-R3) as in the fast tier
                p = float(np.clip(encoded[i, k + facilitator[code]], 1e-6, 1 - 1e-6))
                logit = fast._rule_polarity(code, sents[j][0], sents, float(np.log(p / (1 - p))))
                polarity = "facilitator" if logit >= 0 else "barrier"
            decided.append((code, prob, j, polarity))
        out.append(decided)
    return out


def _decide(
    fast: FactorCoder, labels: list[str], thresholds: dict[str, float], cue_only: set[str], full: str,
    probs: np.ndarray, reading: ReviewReading, i: int,
) -> list[tuple[str, float, int]]:
    """(code, probability, evidence sentence) of review ``i``: cue-only codes by their cues,
    the others where the blend passes the code's threshold, then the codebook's rules on
    which codes a review can carry (R4 short reviews, R5 chatbot context, R7 figurative
    words), as in the fast tier."""
    sents, hits = reading.sentiments[i].sentences, reading.cue_hits[i]
    if not sents:
        return []
    chosen = [c for c in fast._decide_cues(sents, hits) if c[0] in cue_only]
    fast_index = {c: j for j, c in enumerate(fast.presence.labels)} if fast.presence else {}
    for m, code in enumerate(labels):
        if probs[m] >= thresholds[code]:
            chosen.append((code, float(probs[m]), _evidence(code, reading.sentence_p[i], fast_index, hits)))
    return fast._apply_rules(chosen, full, hits, thresholds)


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
