"""What a ``process`` run did, in counts: ``processed/process_summary.json`` and the printed table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class ProcessSummary:
    """What a ``process`` run did, in counts (also ``processed/process_summary.json``)."""

    data_dir: str
    generation: str = ""
    inputs: list[dict] = field(default_factory=list)
    import_notes: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    kept_with_issues: dict[str, int] = field(default_factory=dict)
    duplicates_collapsed: int = 0
    merged_across_sources: int = 0
    reviews: int = 0
    previous_versions: int = 0
    edited_reviews: int = 0
    content_keyed: int = 0
    copy_paste: int = 0
    cross_app_copy_paste: int = 0
    spam: int = 0
    spam_by_reason: dict[str, int] = field(default_factory=dict)
    english: int = 0
    non_english: int = 0
    no_language: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    redactions: dict[str, int] = field(default_factory=dict)
    pseudonymised: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)

    def rows(self) -> list[tuple[str, str]]:
        """(label, value) pairs for a printed table."""

        def fmt(counts: dict[str, int]) -> str:
            return ", ".join(f"{k}: {v:,}" for k, v in counts.items()) or "-"

        return [
            ("input files", f"{len(self.inputs):,}"),
            ("rows read", f"{self.rows_read:,}"),
            ("rows rejected", f"{self.rows_rejected:,}  ({fmt(self.rejected_by_reason)})"),
            ("rows kept with a value fixed", fmt(self.kept_with_issues)),
            ("repeated sightings collapsed", f"{self.duplicates_collapsed:,}"),
            ("  of which id-less rows matched to a store id", f"{self.merged_across_sources:,}"),
            ("reviews (current versions)", f"{self.reviews:,}"),
            ("  keyed by content (no store id)", f"{self.content_keyed:,}"),
            ("edited reviews", f"{self.edited_reviews:,}"),
            ("earlier versions kept", f"{self.previous_versions:,}"),
            ("copy-paste reviews", f"{self.copy_paste:,}"),
            ("  shared across apps", f"{self.cross_app_copy_paste:,}"),
            ("spam (flagged, kept)", f"{self.spam:,}  ({fmt(self.spam_by_reason)})"),
            ("English / other / no language",
             f"{self.english:,} / {self.non_english:,} / {self.no_language:,}"),
            ("languages", fmt(self.languages)),
            ("redactions", fmt(self.redactions)),
            ("reviewer names pseudonymised", f"{self.pseudonymised:,}"),
            ("time", f"{self.seconds:.1f} s ({self.rows_per_second:,.0f} rows/s)"),
        ]
