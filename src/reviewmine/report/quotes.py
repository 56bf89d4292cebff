"""Representative quotes: for each app x code x polarity cell, the evidence sentences most
typical of the cell.

"Typical" means close to the cell's centroid in tf-idf space (what most reviews in the
cell say), weighted by the coder's confidence, among sentences of ordinary length (6 to
60 words, so neither fragments nor the longest rants win). Near-duplicates of an already
chosen quote are skipped. Quotes carry the review's date, app version, rating and the
reviewer's pseudonym only; texts were redacted by ``process``.

Two kinds of evidence are not quoted: evidence whose polarity contradicts both the star
rating and the sentence's own sentiment (a barrier in a 4-5 star review with a positive
sentence, or the reverse), unless the coder is confident (probability >= 0.9), because such
a quote is more often the coder's error than the reviewer's view; and, unless
``include_sensitive``, reviews that speak of self-harm, suicide or a crisis, which a report
should not put on show (verbatim quotes can be found with a search engine). Cells with
fewer than 10 reviews are flagged ``small_cell``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from reviewmine.report.inputs import ALL_APPS, ReportInputs

QUOTE_COLUMNS = [
    "app", "code", "label", "category", "polarity", "rank", "cell_reviews", "small_cell", "quote",
    "review_text", "rating", "date", "app_version", "store", "reviewer", "review_key", "probability",
    "typicality",
]  # fmt: skip
SMALL_CELL = 10
CONFIDENT = 0.9
SENSITIVE = re.compile(
    r"\b(?:suicid\w*|self[- ]?harm\w*|kill(?:ing)? my ?self|end(?:ing)? (?:my life|it all)|take my (?:own )?life"
    r"|(?:want(?:ed)?|wish(?:ed)?) (?:to|i (?:was|were)) (?:die|dead)|cut(?:ting)? myself|overdos\w*)\b",
    re.IGNORECASE,
)
MIN_WORDS, MAX_WORDS = 6, 60
DUPLICATE_SIMILARITY = 0.8
REVIEW_TEXT_CHARS = 600


def _shorten(text: str, limit: int = REVIEW_TEXT_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def representative_quotes(inputs: ReportInputs, per_cell: int = 3, include_sensitive: bool = False) -> pd.DataFrame:
    """Up to ``per_cell`` typical quotes for every app x code x polarity cell and pooled.

    >>> quotes = representative_quotes(load_inputs("data"))  # doctest: +SKIP
    >>> quotes.query("app == 'calm' and code == 'cost_monetization'")[["polarity", "quote"]]  # doctest: +SKIP
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    codes = inputs.codes
    if codes.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    reviews = inputs.reviews[["review_key", "text", "reviewer_pseudonym"]]
    rows = codes.merge(reviews, on="review_key", how="left").reset_index(drop=True)
    evidence = rows["evidence"].fillna("").str.strip()
    rows["quote"] = evidence.where(evidence != "", rows["text"].fillna("").map(lambda t: _shorten(t, 300)))
    rows = rows[(rows["quote"] != "") & ~contradicts_rating_and_sentiment(rows)]
    if not include_sensitive:
        rows = rows[~is_sensitive(rows["text"].fillna("") + " " + rows["quote"])]
    rows = rows.reset_index(drop=True)
    if rows.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    vectorizer = TfidfVectorizer(sublinear_tf=True, stop_words="english", min_df=1)
    try:
        matrix = vectorizer.fit_transform(rows["quote"])
    except ValueError:  # nothing but stop words: every quote is equally typical
        matrix = None
    words = rows["quote"].str.split().str.len().to_numpy()
    ordinary = (words >= MIN_WORDS) & (words <= MAX_WORDS)
    probability = rows["probability"].fillna(0.5).to_numpy()

    picked: list[tuple[str, int, float]] = []  # (cell app, row index, typicality)
    for scope, frame in ((ALL_APPS, rows), (None, rows)):
        groups = frame.groupby(["code", "polarity"] if scope else ["app", "code", "polarity"], sort=True)
        for _, cell in groups:
            idx = cell.index.to_numpy()
            app = scope or cell["app"].iloc[0]
            for i, typ in _pick(idx, matrix, ordinary, probability, rows["review_key"].to_numpy(), per_cell):
                picked.append((app, i, typ))
    if not picked:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    apps, index, typicality = zip(*picked, strict=True)
    out = rows.loc[list(index)].reset_index(drop=True)
    out["app"] = list(apps)
    out["typicality"] = np.round(typicality, 4)
    cell_sizes = pd.concat([rows.assign(app=ALL_APPS), rows]).groupby(["app", "code", "polarity"])["review_key"].nunique()
    out["cell_reviews"] = [cell_sizes[(a, c, p)] for a, c, p in zip(out["app"], out["code"], out["polarity"], strict=True)]
    out["small_cell"] = out["cell_reviews"] < SMALL_CELL
    out["rank"] = out.groupby(["app", "code", "polarity"]).cumcount() + 1
    out["label"] = out["code"].map(inputs.code_label)
    out["category"] = out["code"].map(inputs.code_category)
    out["review_text"] = out["text"].fillna("").map(_shorten)
    out["date"] = pd.to_datetime(out["at"], utc=True).dt.strftime("%Y-%m-%d")
    out["reviewer"] = out["reviewer_pseudonym"].fillna("")
    out["probability"] = out["probability"].round(4)
    return out[QUOTE_COLUMNS]


def contradicts_rating_and_sentiment(codes: pd.DataFrame) -> pd.Series:
    """Evidence whose polarity both the star rating and the sentence's sentiment contradict,
    where the coder was not confident: a barrier in a 4-5 star review with a positive
    sentence, or a facilitator in a 1-2 star review with a negative one."""
    rating = pd.to_numeric(codes["rating"], errors="coerce")
    sentiment = pd.to_numeric(codes["sentence_sentiment"], errors="coerce")
    barrier_in_praise = (codes["polarity"] == "barrier") & (rating >= 4) & (sentiment > 0.05)
    facilitator_in_complaint = (codes["polarity"] == "facilitator") & (rating <= 2) & (sentiment < -0.05)
    unsure = codes["probability"].fillna(0.0) < CONFIDENT
    return (barrier_in_praise | facilitator_in_complaint) & unsure


def is_sensitive(texts: pd.Series) -> pd.Series:
    """Texts that speak of self-harm, suicide or wanting to die (hidden from quotes by default)."""
    return texts.fillna("").str.contains(SENSITIVE)


def _pick(idx, matrix, ordinary, probability, keys, per_cell: int):
    """Indices of the most typical, non-duplicate quotes of one cell, with their typicality."""
    if matrix is None:
        sims = np.ones(len(idx))
        vectors = None
    else:
        vectors = matrix[idx]
        centroid = np.asarray(vectors.mean(axis=0)).ravel()
        norm = np.linalg.norm(centroid)
        sims = vectors @ (centroid / norm) if norm > 0 else np.zeros(len(idx))
        sims = np.asarray(sims).ravel()
    pool = np.flatnonzero(ordinary[idx])
    if len(pool) == 0:
        pool = np.arange(len(idx))
    score = sims[pool] * (0.5 + 0.5 * probability[idx][pool])
    order = sorted(range(len(pool)), key=lambda j: (-score[j], keys[idx[pool[j]]]))
    chosen: list[int] = []
    seen_reviews: set[str] = set()
    for j in order:
        local = pool[j]
        if keys[idx[local]] in seen_reviews:
            continue
        if vectors is not None and chosen:
            overlap = (vectors[[local]] @ vectors[chosen].T).toarray().max()
            if overlap >= DUPLICATE_SIMILARITY:
                continue
        chosen.append(local)
        seen_reviews.add(keys[idx[local]])
        if len(chosen) == per_cell:
            break
    return [(int(idx[c]), float(sims[c])) for c in chosen]
