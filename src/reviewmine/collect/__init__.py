"""Collection: Google Play and App Store reviews and metadata, incremental and resumable."""

from reviewmine.collect.run import CollectResult, PartitionResult, collect, summary_table

__all__ = ["CollectResult", "PartitionResult", "collect", "summary_table"]
