"""Collection: Google Play and App Store reviews and metadata, incremental and resumable."""

from reviewmine.collect.pipeline import CollectResult, collect
from reviewmine.collect.walk import PartitionResult

__all__ = ["CollectResult", "PartitionResult", "collect"]
