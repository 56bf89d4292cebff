"""The catalog of apps to collect: a shipped, curated ``apps.yaml`` plus users' own files."""

from reviewmine.catalog.loader import (
    Catalog,
    CatalogApp,
    apps,
    filter_apps,
    load_catalog,
    shipped_catalog_path,
)

__all__ = ["Catalog", "CatalogApp", "apps", "filter_apps", "load_catalog", "shipped_catalog_path"]
