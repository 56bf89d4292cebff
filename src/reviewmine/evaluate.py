"""Agreement between automatic codes and hand codes.

The same figures researchers report for human coders: per-code precision, recall and
F1; micro and macro F1 where code and polarity must both match; polarity accuracy on
codes both found; Cohen's kappa on the review x code presence decisions.

A hand-coded file has columns ``uid``, ``text`` and ``codes`` (``code:polarity|...``),
or is a coding sheet from ``sample_for_coding`` with one column per code holding
``b``/``f``/``n`` (barrier, facilitator, neutral).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import Codebook, format_codes, load_codebook, parse_codes
from reviewmine.errors import InputError
from reviewmine.io import read_table, write_frame

SHEET_VALUES = {"b": "barrier", "f": "facilitator", "n": "neutral"}
MIN_SUPPORT = 5


@dataclass
class Evaluation:
    per_code: pd.DataFrame
    summary: dict
    disagreements: pd.DataFrame


def _kappa(a: np.ndarray, b: np.ndarray) -> float:
    po = float((a == b).mean())
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def sheet_to_codes(df: pd.DataFrame, codebook: Codebook) -> pd.Series:
    """Read a coding sheet (one column per code, cells b/f/n) back into serialised codes."""
    present = [c for c in codebook.ids if c in df.columns]
    if not present:
        raise InputError("coding sheet has neither a 'codes' column nor any code-id columns")

    def row_codes(row) -> str:
        codes = {}
        for c in present:
            v = str(row[c]).strip().lower()[:1]
            if v in SHEET_VALUES:
                codes[c] = SHEET_VALUES[v]
        return format_codes(codes)

    return df.apply(row_codes, axis=1)


def compare(gold: list[dict[str, str]], pred: list[dict[str, str]], codebook: Codebook) -> tuple[pd.DataFrame, dict]:
    """Per-code and overall agreement of two codings of the same reviews."""
    ids = list(codebook.ids)
    rows = []
    tp_all = fp_all = fn_all = 0
    matched = pol_ok = 0
    kappas_x, kappas_y = [], []
    for c in ids:
        g = np.array([c in x for x in gold])
        p = np.array([c in x for x in pred])
        tp_s = sum(1 for x, y in zip(gold, pred, strict=True) if c in x and y.get(c) == x[c])
        fp_s = int(p.sum()) - tp_s
        fn_s = int(g.sum()) - tp_s
        both = [(x[c], y[c]) for x, y in zip(gold, pred, strict=True) if c in x and c in y]
        matched += len(both)
        pol_ok += sum(a == b for a, b in both)
        tp_all, fp_all, fn_all = tp_all + tp_s, fp_all + fp_s, fn_all + fn_s
        pr, rc, f1 = _prf(tp_s, fp_s, fn_s)
        _, _, f1_code = _prf(int((g & p).sum()), int((~g & p).sum()), int((g & ~p).sum()))
        kappas_x.append(g.astype(int))
        kappas_y.append(p.astype(int))
        rows.append(
            {
                "code": c,
                "support": int(g.sum()),
                "predicted": int(p.sum()),
                "precision": round(pr, 3),
                "recall": round(rc, 3),
                "f1": round(f1, 3),
                "f1_code_only": round(f1_code, 3),
                "kappa": round(_kappa(g.astype(int), p.astype(int)), 3) if g.any() or p.any() else np.nan,
            }
        )
    per_code = pd.DataFrame(rows)
    _, _, micro = _prf(tp_all, fp_all, fn_all)
    frequent = per_code[per_code["support"] >= MIN_SUPPORT]
    summary = {
        "reviews": len(gold),
        "gold_codes": int(per_code["support"].sum()),
        "predicted_codes": int(per_code["predicted"].sum()),
        "micro_f1": round(micro, 3),
        "micro_precision": round(_prf(tp_all, fp_all, fn_all)[0], 3),
        "micro_recall": round(_prf(tp_all, fp_all, fn_all)[1], 3),
        "macro_f1_all_codes_in_gold": round(float(per_code.loc[per_code["support"] > 0, "f1"].mean()), 3),
        f"macro_f1_support_ge_{MIN_SUPPORT}": round(float(frequent["f1"].mean()), 3) if len(frequent) else float("nan"),
        "micro_f1_code_only": round(
            _prf(
                sum(len(set(x) & set(y)) for x, y in zip(gold, pred, strict=True)),
                sum(len(set(y) - set(x)) for x, y in zip(gold, pred, strict=True)),
                sum(len(set(x) - set(y)) for x, y in zip(gold, pred, strict=True)),
            )[2],
            3,
        ),
        "polarity_accuracy": round(pol_ok / matched, 3) if matched else float("nan"),
        "matched_codes": matched,
        "cohen_kappa_pooled": round(_kappa(np.concatenate(kappas_x), np.concatenate(kappas_y)), 3),
        "cohen_kappa_mean_frequent": round(float(frequent["kappa"].mean()), 3) if len(frequent) else float("nan"),
        "exact_match_reviews": round(float(np.mean([x == y for x, y in zip(gold, pred, strict=True)])), 3),
    }
    return per_code, summary


def evaluate(
    gold: str | Path,
    pred: str | Path | None = None,
    text_col: str = "text",
    id_col: str = "uid",
    title_col: str | None = "title",
    codebook: str | Path | None = None,
    disagreements: str | Path | None = None,
    use_model: bool = True,
) -> Evaluation:
    """Compare automatic codes (computed now, or read from ``pred``) with the hand codes in ``gold``."""
    cb = load_codebook(codebook) if codebook else load_codebook()
    gdf = read_table(gold, required=[id_col])
    if "codes" not in gdf.columns:
        gdf["codes"] = sheet_to_codes(gdf, cb)
    unknown = sorted({c for s in gdf["codes"] for c in parse_codes(s)} - set(cb.ids))
    if unknown:
        raise InputError(f"{gold}: code ids not in the codebook: {', '.join(unknown)}; fix the ids or pass --codebook")
    if pred is not None:
        pdf = read_table(pred, required=[id_col, "codes"])
        pdf = gdf[[id_col]].merge(pdf[[id_col, "codes"]], on=id_col, how="left").fillna({"codes": ""})
        pred_codes = pdf["codes"].tolist()
    else:
        if text_col not in gdf.columns:
            raise InputError(f"{gold}: no column '{text_col}' to code; pass --text-col or --pred")
        from reviewmine.analyze.factors import FactorCoder

        coder = FactorCoder(cb, use_model=use_model)
        titles = gdf[title_col].tolist() if title_col and title_col in gdf.columns else None
        pred_codes = [r.serialised for r in coder.code_texts(gdf[text_col].tolist(), titles)]
    g = [parse_codes(s) for s in gdf["codes"]]
    p = [parse_codes(s) for s in pred_codes]
    per_code, summary = compare(g, p, cb)
    dis = pd.DataFrame(
        {
            "uid": gdf[id_col],
            "text": gdf[text_col] if text_col in gdf.columns else "",
            "gold": [format_codes(x) for x in g],
            "predicted": [format_codes(x) for x in p],
            "missed": [format_codes({c: v for c, v in x.items() if y.get(c) != v}) for x, y in zip(g, p, strict=True)],
            "extra": [format_codes({c: v for c, v in y.items() if x.get(c) != v}) for x, y in zip(g, p, strict=True)],
        }
    )
    dis = dis[dis["gold"] != dis["predicted"]]
    if disagreements:
        write_frame(dis, disagreements)
    return Evaluation(per_code, summary, dis)


def sample_for_coding(
    input: str | Path,
    out: str | Path,
    n: int = 200,
    text_col: str = "text",
    id_col: str | None = None,
    strata: tuple[str, ...] = ("app", "rating"),
    seed: int = 42,
    codebook: str | Path | None = None,
) -> pd.DataFrame:
    """Export a stratified sample as a coding sheet: one column per code, cells b/f/n.

    Strata that exist in the input (app, rating, ...) get equal shares where they can.
    """
    cb = load_codebook(codebook) if codebook else load_codebook()
    df = read_table(input, required=[text_col])
    df = df[df[text_col].astype(str).str.strip() != ""]
    if id_col is None:
        id_col = next((c for c in ("uid", "review_key", "review_id") if c in df.columns), None)
    if id_col is None:
        df = df.assign(uid=[f"row{i}" for i in range(len(df))])
        id_col = "uid"
    keys = [s for s in strata if s in df.columns]
    rng = np.random.default_rng(seed)
    if keys and len(df) > n:
        groups = list(df.groupby(keys, sort=True).groups.values())
        per = max(1, n // len(groups))
        picked = [rng.choice(np.asarray(idx), size=min(per, len(idx)), replace=False) for idx in groups]
        chosen = pd.Index(np.concatenate(picked))
        rest = df.index.difference(chosen)
        if len(chosen) < n and len(rest):
            chosen = chosen.append(pd.Index(rng.choice(rest, size=min(n - len(chosen), len(rest)), replace=False)))
        sample = df.loc[chosen[:n]]
    else:
        sample = df.sample(n=min(n, len(df)), random_state=seed)
    sheet = sample[[id_col, *keys, text_col]].rename(columns={id_col: "uid", text_col: "text"}).copy()
    for c in cb.ids:
        sheet[c] = ""
    sheet["notes"] = ""
    path = Path(out)
    if path.suffix.lower() == ".xlsx":
        write_frame(sheet, path, writer=lambda d, p: _write_sheet_xlsx(d, p, cb))
    else:
        write_frame(sheet, path)
    return sheet


def _write_sheet_xlsx(df: pd.DataFrame, path: Path, cb: Codebook) -> None:
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        df.to_excel(xl, sheet_name="coding", index=False)
        pd.DataFrame(
            [{"id": c.id, "category": c.category, "description": c.description,
              "barrier example": "; ".join(c.barrier_examples),
              "facilitator example": "; ".join(c.facilitator_examples)} for c in cb.codes]
        ).to_excel(xl, sheet_name="codebook", index=False)
        pd.DataFrame({"how to code": [
            "Enter b (barrier), f (facilitator) or n (neutral) in a code's column; leave it empty when the code does not apply.",
            "Then run: reviewmine evaluate --gold THIS_FILE.xlsx",
        ]}).to_excel(xl, sheet_name="instructions", index=False)
