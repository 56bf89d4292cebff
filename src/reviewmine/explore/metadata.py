"""What the explorer shows: tables, facets, column descriptions and canned queries.

Column descriptions come from the processed layer's schema (``reviewmine.process.schema``,
the same source as docs/data-dictionary-processed.md) and from ``ANALYSIS_COLUMNS`` below,
which repeats docs/data-dictionary-analysis.md (a test keeps the two in step), so an
installed package never reads docs/ at run time.
"""

from __future__ import annotations

from reviewmine.process.schema import PROCESSED_FIELDS

DATABASE = "reviews"  # Datasette names a database after its file: reviews.db

ANALYSIS_COLUMNS = {
    "sentiment": "Review sentiment in [-1, 1]: `tanh((star_logit + beta * vader_mean) / 2)`; the blend of the learned star model and domain VADER (see docs/coding.md).",
    "codes": "Engagement-factor codes serialised as in the codebook: `code:polarity` joined by `|`, sorted by code id; empty when nothing is codable.",
    "n_codes": "Number of codes.",
    "code": "Codebook id (e.g. `technical_issues`).",
    "category": "Borghouts category: `user`, `program` or `technology`.",
    "polarity": "`barrier`, `facilitator` or `neutral`, decided from the evidence sentence.",
    "probability": "Presence model's probability for this code (1.0 for cue-only coding).",
    "evidence": "The sentence (title and text split into sentences) that is the evidence for the code.",
    "cues": "Codebook cue words found in the evidence sentence, `; `-separated (may be empty: the learned model can find a code without a cue).",
    "sentence_sentiment": "Domain-VADER compound of the evidence sentence.",
    "topic_id": "BERTopic topic of the review; `-1` = outlier (no topic).",
    "factor": "Codebook factor the topic maps to; empty for emerging themes and outliers.",
    "is_emerging": "True for a topic that maps to no codebook factor: a theme the codebook lacks.",
}
EXPLORE_COLUMNS = {
    "topic": "Readable label of the review's BERTopic topic (empty when topics were not fitted).",
    "analysed": "1 when `reviewmine analyze` analysed the review (English, not spam, with text by default).",
    "label": "Readable topic label (top words, or the factor's label for codebook topics).",
    "size": "Number of analysed reviews in the topic.",
    "words": "Top 10 words of the topic, space separated (bigrams joined by `_`).",
    "coded_factor": "The code the factor coder assigns most often to the topic's reviews.",
    "coded_factor_share": "Share of the topic's reviews carrying `coded_factor`.",
}

# Columns of each table, in display order. Only pseudonymised processed columns: the
# reviewer appears as `reviewer_pseudonym`, never by name. Developer replies stay out, as in
# the report: developers greet reviewers by first name, which imports cannot always redact.
REVIEW_FIELDS = [
    "review_key", "app", "store", "rating", "at", "month", "app_version", "version_major",
    "version_major_minor", "language", "country", "title", "text", "reviewer_pseudonym",
    "thumbs_up", "is_spam",
]  # fmt: skip
REVIEWS_TABLE = [*REVIEW_FIELDS, "analysed", "sentiment", "codes", "n_codes", "topic_id", "topic"]
CODES_TABLE = [
    "review_key", "app", "store", "rating", "code", "category", "polarity", "evidence", "title", "text",
    "probability", "cues", "sentence_sentiment", "sentiment", "topic_id", "topic", "at", "month",
    "app_version", "version_major", "version_major_minor", "language", "reviewer_pseudonym",
]  # fmt: skip
TOPICS_TABLE = [
    "topic_id", "label", "size", "words", "factor", "factor_label", "category", "similarity",
    "is_zeroshot", "is_emerging", "coded_factor", "coded_factor_share",
]  # fmt: skip

FACETS = {
    "codes": ["app", "store", "rating", "code", "polarity", "category", "topic", "language",
              "app_version", "month"],
    "reviews": ["app", "store", "rating", "language", "topic", "app_version", "month"],
    "topics": ["factor", "category", "is_emerging"],
}  # fmt: skip
FTS_COLUMNS = ["title", "text"]

# Canned queries for the common questions. Empty parameters mean "any".
QUERIES = {
    "factor_counts": {
        "title": "Reviews by app x code x polarity",
        "description": "How many reviews raise each factor with each polarity, per app, with their mean rating.",
        "sql": (
            "select app, code, polarity, count(*) as reviews, round(avg(rating), 2) as mean_rating\n"
            "from codes\nwhere (:app = '' or app = :app) and (:code = '' or code = :code)\n"
            "group by app, code, polarity\norder by app, reviews desc"
        ),
    },
    "reviews_of_factor": {
        "title": "Reviews of an app coded with a factor",
        "description": "Every review of an app coded with a factor and polarity, evidence sentence highlighted; "
        "optionally only ratings up to max_rating and app versions from min_major on.",
        "sql": (
            "select review_key, app, rating, app_version, at, code, polarity, evidence, title, text\n"
            "from codes\nwhere (:app = '' or app = :app) and code = :code\n"
            "  and (:polarity = '' or polarity = :polarity)\n"
            "  and (:max_rating = '' or rating <= cast(:max_rating as integer))\n"
            "  and (:min_major = '' or version_major >= cast(:min_major as integer))\n"
            "order by at desc"
        ),
    },
    "evidence_of_code": {
        "title": "Evidence sentences of a code",
        "description": "The evidence sentences of one code (optionally one polarity), most confident first.",
        "sql": (
            "select evidence, polarity, app, rating, round(probability, 3) as probability, review_key\n"
            "from codes\nwhere code = :code and (:polarity = '' or polarity = :polarity)\n"
            "order by probability desc, review_key"
        ),
    },
    "reviews_of_version": {
        "title": "Reviews of one app version",
        "description": "The reviews of an app version: a full version (6.44.1) or major.minor (6.44).",
        "sql": (
            "select review_key, rating, at, app_version, codes, sentiment, title, text\n"
            "from reviews\nwhere app = :app and (app_version = :version or version_major_minor = :version)\n"
            "order by at desc"
        ),
    },
    "topic_members": {
        "title": "Topic members",
        "description": "The reviews assigned to one topic (topic_id as in the topics table), optionally of one app.",
        "sql": (
            "select review_key, app, rating, at, topic, codes, title, text\n"
            "from reviews\nwhere topic_id = cast(:topic_id as integer) and (:app = '' or app = :app)\n"
            "order by at desc"
        ),
    },
}


def column_descriptions() -> dict[str, str]:
    """Every column the explorer shows, with its meaning from the data dictionaries."""
    processed = {field.name: meaning for field, meaning in PROCESSED_FIELDS}
    return {**processed, **ANALYSIS_COLUMNS, **EXPLORE_COLUMNS}


def datasette_metadata() -> dict:
    """Datasette metadata: titles, column descriptions, facets, full-text search, canned queries."""
    described = column_descriptions()

    def table(columns: list[str], description: str, **extra) -> dict:
        return {
            "description": description,
            "columns": {c: described[c] for c in columns if c in described},
            **extra,
        }

    return {
        "title": "reviewmine explorer",
        "description": "Pseudonymised app-store reviews with their engagement-factor codes, polarity, "
        "evidence, sentiment and topics. Read-only.",
        "databases": {
            DATABASE: {
                "tables": {
                    "codes": table(CODES_TABLE, "One row per review x engagement-factor code; the evidence "
                                   "sentence is highlighted in the review.", facets=FACETS["codes"],
                                   sort_desc="at", fts_table="codes_fts", label_column="code"),
                    "reviews": table(REVIEWS_TABLE, "One row per processed review (current version), with "
                                     "sentiment, codes and topic where analysed.", facets=FACETS["reviews"],
                                     sort_desc="at", fts_table="reviews_fts"),
                    "topics": table(TOPICS_TABLE, "One row per BERTopic topic.", facets=FACETS["topics"],
                                    sort_desc="size", label_column="label"),
                    "build_info": {"hidden": True},
                },
                "queries": QUERIES,
            }
        },
    }
