"""Storage of the archive: the catalogue, its search, and the job table, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from recordings.archive.store.catalogue import CatalogueStore
from recordings.archive.store.jobs import JobStore
from recordings.archive.store.replay import ReplayStore
from recordings.archive.store.search import CatalogueSearch, Filters
from rooms.store.database import Database


@dataclass(frozen=True)
class ArchiveStores:
    catalogue: CatalogueStore
    search: CatalogueSearch
    jobs: JobStore
    replay: ReplayStore

    @classmethod
    def over(cls, db: Database) -> "ArchiveStores":
        catalogue = CatalogueStore(db)
        return cls(catalogue=catalogue, search=CatalogueSearch(db, catalogue), jobs=JobStore(db),
                   replay=ReplayStore(db))


__all__ = ["ArchiveStores", "CatalogueStore", "CatalogueSearch", "Filters", "JobStore", "ReplayStore"]
