"""What one resource sync read, what the destination did with it, and how fast."""

from dataclasses import dataclass, field

from dhis_sync_pipeline.dhis2 import ImportResult, ObjectError


@dataclass(kw_only=True)
class ImportTally:
    read: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    ignored: int = 0
    errors: list[ObjectError] = field(default_factory=list)
    duration_seconds: float = 0.0

    def add_counts(self, result: ImportResult) -> None:
        self.created += result.created
        self.updated += result.updated
        self.deleted += result.deleted
        self.ignored += result.ignored

    @property
    def per_second(self) -> float:
        return round(self.read / self.duration_seconds, 1) if self.duration_seconds > 0 else 0.0
