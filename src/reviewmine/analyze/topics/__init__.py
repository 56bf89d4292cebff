"""Topic modelling of reviews with BERTopic, split by job.

- ``model``: the estimator (``ReviewTopicModel``, ``SizedKMeans``, ``CentredEmbedder``) and
  its text helpers;
- ``bertopic_adapter``: the one place that touches BERTopic's internals;
- ``tables``: shares by app, month and version, quotes, the topic -> factor table, positions;
- ``command``: ``topics()``, the ``reviewmine topics`` command as a function.

The public names are importable from here: ``from reviewmine.analyze.topics import
ReviewTopicModel, topics``.
"""

from reviewmine.analyze.topics.command import TopicsResult, read_texts_csv, topics
from reviewmine.analyze.topics.model import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_SAMPLE_SIZE,
    FILLER_WORDS,
    MIN_REVIEWS,
    MODEL_VERSION,
    TOKEN_PATTERN,
    ZEROSHOT_THRESHOLDS,
    CentredEmbedder,
    ReviewTopicModel,
    SizedKMeans,
    check_options,
    clean_for_words,
    corpus_hash,
    default_min_topic_size,
    stop_words,
    zeroshot_descriptions,
)
from reviewmine.analyze.topics.tables import (
    representative_quotes,
    topic_factor_table,
    topic_positions,
    topic_share_by_app,
    topics_over_time,
    topics_per_version,
)

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_SAMPLE_SIZE",
    "FILLER_WORDS",
    "MIN_REVIEWS",
    "MODEL_VERSION",
    "TOKEN_PATTERN",
    "ZEROSHOT_THRESHOLDS",
    "CentredEmbedder",
    "ReviewTopicModel",
    "SizedKMeans",
    "TopicsResult",
    "check_options",
    "clean_for_words",
    "corpus_hash",
    "default_min_topic_size",
    "read_texts_csv",
    "representative_quotes",
    "stop_words",
    "topic_factor_table",
    "topic_positions",
    "topic_share_by_app",
    "topics",
    "topics_over_time",
    "topics_per_version",
    "zeroshot_descriptions",
]
