"""Agreement between automatic codes and hand codes.

The same figures researchers report for human coders: per-code precision, recall and
F1; micro and macro F1 where code and polarity must both match; polarity accuracy on
codes both found; Cohen's kappa on the review x code presence decisions, per code and
pooled; Krippendorff's alpha (nominal: absent / barrier / facilitator / neutral per review
and code), per code and pooled.

A coded file (``--gold`` and ``--pred`` alike, so two human coders can be compared) has
columns ``uid`` and ``codes`` (``code:polarity|...``), or is a coding sheet from
``sample_for_coding`` with one column per code holding ``b``/``f``/``n`` (barrier,
facilitator, neutral).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from reviewmine.analyze.codebook import (
    POLARITIES,
    Codebook,
    format_codes,
    load_codebook,
    parse_codes,
)
from reviewmine.config import default_data_dir
from reviewmine.errors import InputError, check_range, check_seed
from reviewmine.io import (
    read_table,
    refuse_overwrite,
    stage_dirs,
    write_atomic,
    write_frame,
    write_xlsx,
)

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


ALPHA_VALUES = {"barrier": 1, "facilitator": 2, "neutral": 3}  # 0 = code absent


def _alpha(a: np.ndarray, b: np.ndarray) -> float:
    """Krippendorff's alpha (nominal) of two coders' values; NaN when only one value occurs."""
    import krippendorff

    if len(np.unique(np.concatenate([a, b]))) < 2:
        return float("nan")
    return float(krippendorff.alpha(reliability_data=np.vstack([a, b]), level_of_measurement="nominal"))


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def sheet_to_codes(df: pd.DataFrame, codebook: Codebook, id_col: str = "uid", source: object = "coding sheet") -> pd.Series:
    """Read a coding sheet (one column per code, cells b/f/n) back into serialised codes.

    ``source`` (the file name) starts every error message.
    """
    present = [c for c in codebook.ids if c in df.columns]
    if not present:
        raise InputError(
            f"{source}: has neither a 'codes' column nor any code-id columns; pass a coded CSV "
            "(uid,codes) or a sheet from 'reviewmine sample-for-coding'"
        )
    accepted = {**SHEET_VALUES, **{v: v for v in SHEET_VALUES.values()}}

    def row_codes(row) -> str:
        codes = {}
        for c in present:
            cell = row[c]
            if cell is None or (isinstance(cell, float) and cell != cell) or not str(cell).strip():
                continue
            value = str(cell).strip().lower()
            if value not in accepted:
                raise InputError(
                    f"{source}: row {row.get(id_col, '?')}, column {c}: {cell!r} is not b, f or n "
                    "(barrier, facilitator, neutral); leave the cell empty when the code does not apply"
                )
            codes[c] = accepted[value]
        return format_codes(codes)

    return df.apply(row_codes, axis=1)


def _checked_codes(serialised: pd.Series, source: object, codebook: Codebook) -> list[dict[str, str]]:
    """Parse serialised codes; unknown code ids or polarities are one clear error."""
    parsed = []
    for text in serialised:
        codes = {c: p.lower() for c, p in parse_codes(text).items()}
        unknown = sorted(set(codes) - set(codebook.ids))
        if unknown:
            raise InputError(f"{source}: code ids not in the codebook: {', '.join(unknown)}; fix the ids or pass --codebook")
        bad = sorted({p for p in codes.values() if p not in POLARITIES})
        if bad:
            raise InputError(
                f"{source}: polarity {', '.join(repr(b) for b in bad)} is not barrier, facilitator or neutral "
                "(write codes as code:polarity joined by |)"
            )
        parsed.append(codes)
    return parsed


def compare(gold: list[dict[str, str]], pred: list[dict[str, str]], codebook: Codebook) -> tuple[pd.DataFrame, dict]:
    """Per-code and overall agreement of two codings of the same reviews.

    Precision, recall and F1 count a code as agreed only when code and polarity match;
    ``f1_code_only`` and ``kappa_presence`` look at the code's presence alone.
    """
    rows = []
    tp_all = fp_all = fn_all = matched = pol_ok = 0
    presence_gold, presence_pred, values_gold, values_pred = [], [], [], []
    for c in codebook.ids:
        vg = np.array([ALPHA_VALUES.get(x.get(c), 0) for x in gold])
        vp = np.array([ALPHA_VALUES.get(y.get(c), 0) for y in pred])
        values_gold.append(vg)
        values_pred.append(vp)
        g = np.array([c in x for x in gold], dtype=bool)
        p = np.array([c in x for x in pred], dtype=bool)
        tp = sum(1 for x, y in zip(gold, pred, strict=True) if c in x and y.get(c) == x[c])
        fp, fn = int(p.sum()) - tp, int(g.sum()) - tp
        both = [(x[c], y[c]) for x, y in zip(gold, pred, strict=True) if c in x and c in y]
        matched += len(both)
        pol_ok += sum(a == b for a, b in both)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision, recall, f1 = _prf(tp, fp, fn)
        presence_gold.append(g.astype(int))
        presence_pred.append(p.astype(int))
        rows.append(
            {
                "code": c,
                "support": int(g.sum()),
                "predicted": int(p.sum()),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "f1_code_only": _prf(int((g & p).sum()), int((~g & p).sum()), int((g & ~p).sum()))[2],
                "kappa_presence": _kappa(g.astype(int), p.astype(int)) if g.any() or p.any() else np.nan,
                "alpha": _alpha(vg, vp),
            }
        )
    per_code = pd.DataFrame(rows)
    micro_p, micro_r, micro = _prf(tp_all, fp_all, fn_all)
    frequent = per_code[per_code["support"] >= MIN_SUPPORT]
    seen = per_code[(per_code["support"] > 0) | (per_code["predicted"] > 0)]
    code_tp = sum(len(set(x) & set(y)) for x, y in zip(gold, pred, strict=True))
    code_fp = sum(len(set(y) - set(x)) for x, y in zip(gold, pred, strict=True))
    code_fn = sum(len(set(x) - set(y)) for x, y in zip(gold, pred, strict=True))
    summary = {
        "reviews": len(gold),
        "gold_codes": int(per_code["support"].sum()),
        "predicted_codes": int(per_code["predicted"].sum()),
        "micro_f1": micro,
        "micro_precision": micro_p,
        "micro_recall": micro_r,
        f"macro_f1_support_ge_{MIN_SUPPORT}": float(frequent["f1"].mean()) if len(frequent) else None,
        "codes_support_ge_5": len(frequent),
        "macro_f1_all_codes": float(seen["f1"].mean()) if len(seen) else None,
        "micro_f1_code_only": _prf(code_tp, code_fp, code_fn)[2],
        "polarity_accuracy": pol_ok / matched if matched else None,
        "matched_codes": matched,
        "cohen_kappa_pooled": _kappa(np.concatenate(presence_gold), np.concatenate(presence_pred)) if gold else None,
        "cohen_kappa_mean_frequent": float(frequent["kappa_presence"].mean()) if len(frequent) else None,
        "krippendorff_alpha_pooled": _alpha(np.concatenate(values_gold), np.concatenate(values_pred)) if gold else None,
        "krippendorff_alpha_presence": (
            _alpha(np.concatenate(presence_gold), np.concatenate(presence_pred)) if gold else None
        ),
        "exact_match_reviews": float(np.mean([x == y for x, y in zip(gold, pred, strict=True)])) if gold else None,
    }
    summary = {k: (None if v != v else round(v, 3)) if isinstance(v, float) else v for k, v in summary.items()}
    return per_code.round(3), summary


def evaluate(
    gold: str | Path,
    pred: str | Path | None = None,
    text_col: str = "text",
    id_col: str = "uid",
    title_col: str | None = "title",
    codebook: str | Path | None = None,
    disagreements: str | Path | None = None,
    use_model: bool = True,
    json_out: str | Path | None = None,
    coder: str = "fast",
) -> Evaluation:
    """Compare automatic codes (computed now by the ``coder`` tier, or read from ``pred``) with
    the hand codes in ``gold``; write the rows that differ to ``disagreements`` and the summary
    figures to ``json_out`` (when given)."""
    if json_out:
        refuse_overwrite(json_out, [gold, pred, codebook, disagreements], stage_dirs(default_data_dir()), "--json")
    if disagreements:
        refuse_overwrite(disagreements, [gold, pred, codebook], stage_dirs(default_data_dir()), "--disagreements")
    cb = load_codebook(codebook) if codebook else load_codebook()
    gdf = read_table(gold, required=[id_col])
    if gdf.empty:
        raise InputError(f"{gold}: has no rows; pass a file of hand-coded reviews")
    gdf[id_col] = gdf[id_col].astype(str).str.strip()
    if "codes" not in gdf.columns:
        gdf["codes"] = sheet_to_codes(gdf, cb, id_col, source=gold)
    g = _checked_codes(gdf["codes"], gold, cb)
    if pred is not None:
        pdf = read_table(pred, required=[id_col])
        pdf[id_col] = pdf[id_col].astype(str).str.strip()
        if "codes" not in pdf.columns:
            pdf["codes"] = sheet_to_codes(pdf, cb, id_col, source=pred)
        dup = pdf[id_col][pdf[id_col].duplicated()]
        if len(dup):
            raise InputError(f"{pred}: id {dup.iloc[0]!r} appears more than once; each review needs one row")
        found = gdf[id_col].isin(pdf[id_col])
        if not found.any():
            raise InputError(f"{pred}: none of the {len(gdf)} ids of {gold} is in column '{id_col}'; check --id-col")
        pred_codes = gdf[[id_col]].merge(pdf[[id_col, "codes"]], on=id_col, how="left")["codes"].fillna("")
        p = _checked_codes(pred_codes, pred, cb)
        missing_in_pred = int((~found).sum())
    else:
        if text_col not in gdf.columns:
            raise InputError(f"{gold}: no column '{text_col}' to code; pass --text-col or --pred")
        from reviewmine.analyze.accurate import make_coder

        tier = make_coder(coder, cb, use_model=use_model)
        titles = gdf[title_col].tolist() if title_col and title_col in gdf.columns else None
        p = [{h.code: h.polarity for h in r.codes} for r in tier.code_texts(gdf[text_col].tolist(), titles)]
        missing_in_pred = 0
    per_code, summary = compare(g, p, cb)
    if pred is not None:
        summary["gold_ids_missing_in_pred"] = missing_in_pred
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
    if json_out:
        with write_atomic(json_out) as tmp:
            tmp.write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n")
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
    title_col: str | None = "title",
) -> pd.DataFrame:
    """Export a stratified sample as a coding sheet: one column per code, cells b/f/n.

    Strata that exist in the input (app, rating, ...) get equal shares where they can. The
    sheet carries the review's title (App Store reviews put half their meaning there) when the
    input has one, an ``evidence`` column for the words that justify each code, a ``coder``
    column for the coder's id, and in XLSX a b/f/n drop-down in every code column. Filled in,
    it is read back by ``evaluate`` (``--gold`` or ``--pred``).
    """
    refuse_overwrite(out, [input, codebook], stage_dirs(default_data_dir()))
    check_range("--n", n, 1)
    check_seed(seed)
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
        chosen = pd.Index(rng.permutation(chosen))  # strata beyond n are drawn at random
        sample = df.loc[chosen[:n]]
    else:
        sample = df.sample(n=min(n, len(df)), random_state=seed)
    sample = sample.sample(frac=1, random_state=seed)  # coders should not see strata in order
    titles = [title_col] if title_col and title_col in sample.columns and title_col != text_col else []
    sheet = sample[[id_col, *keys, *titles, text_col]].rename(
        columns={id_col: "uid", text_col: "text", **{t: "title" for t in titles}}
    ).copy()
    for c in cb.ids:
        sheet[c] = ""
    sheet["evidence"] = ""
    sheet["coder"] = ""
    sheet["notes"] = ""
    path = Path(out)
    if path.suffix.lower() == ".xlsx":
        write_frame(sheet, path, writer=lambda d, p: _write_sheet_xlsx(d, p, cb))
    else:
        write_frame(sheet, path)
    return sheet


def _write_sheet_xlsx(df: pd.DataFrame, path: Path, cb: Codebook) -> None:
    codebook = pd.DataFrame(
        [{"id": c.id, "category": c.category, "description": c.description,
          "barrier example": "; ".join(c.barrier_examples),
          "facilitator example": "; ".join(c.facilitator_examples)} for c in cb.codes]
        # The coding rules below the codes: coders read them where they look codes up.
        + [{"id": r.id, "category": "coding rule", "description": r.rule} for r in cb.coding_rules]
    ).fillna("")
    instructions = pd.DataFrame({"how to code": [
        "Read the title and the text; use the codebook sheet for what each code means "
        "and the coding rules listed below the codes there.",
        "Pick b (barrier), f (facilitator) or n (neutral) in a code's column; leave it empty when the code does not apply.",
        "In 'evidence', quote the words that justify each code (code: words; one per code, separated by ' || ').",
        "Put your coder id in 'coder' on every row you code; each coder fills a copy of this file.",
        "Then run: reviewmine evaluate --gold THIS_FILE.xlsx (against the tool), "
        "or --gold CODER_A.xlsx --pred CODER_B.xlsx (two coders).",
    ]})
    choices = {"coding": {c: list(SHEET_VALUES) for c in cb.ids}}
    write_xlsx([("coding", df), ("codebook", codebook), ("instructions", instructions)], path, choices)
