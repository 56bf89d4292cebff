"""Load, validate and filter a catalog of apps (the shipped ``apps.yaml`` or a user's file).

A catalog is YAML with a top-level ``apps:`` list. Each entry::

    - slug: calm                      # required, lowercase letters, digits, hyphens; unique
      name: Calm                      # required
      google_play: com.calm.android   # optional Play package name
      app_store: 571800810            # optional numeric App Store id
      countries: [us, gb]             # two-letter storefront codes (default [us])
      languages: [en]                 # Play review languages (default [en])
      tags: [meditation]              # optional
      status: active                  # active | retired | removed | shutdown_announced
      notes: free text                # optional (where an id came from, why one is missing)

Example::

    >>> cat = load_catalog()
    >>> cat.get("calm").app_store
    '571800810'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from reviewmine.errors import CatalogError

SHIPPED_CATALOG = "apps.yaml"
STATUSES = ("active", "retired", "removed", "shutdown_announced")
KNOWN_KEYS = {
    "slug", "name", "google_play", "app_store", "countries", "languages", "tags", "status", "notes",
}
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_PACKAGE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)+$")
_COUNTRY = re.compile(r"^[a-z]{2}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$")


@dataclass(frozen=True)
class CatalogApp:
    """One app of the catalog, with its store ids (``None`` where no verified id is known)."""

    slug: str
    name: str
    google_play: str | None = None
    app_store: str | None = None
    countries: tuple[str, ...] = ("us",)
    languages: tuple[str, ...] = ("en",)
    tags: tuple[str, ...] = ()
    status: str = "active"
    notes: str = ""

    def store_id(self, store: str) -> str | None:
        """The id of this app in ``store`` (``google_play`` or ``app_store``)."""
        return self.google_play if store == "google_play" else self.app_store


@dataclass(frozen=True)
class Catalog:
    """An ordered, validated list of apps, looked up by slug."""

    apps: tuple[CatalogApp, ...]
    source: str = field(default="")

    def get(self, slug: str) -> CatalogApp:
        for a in self.apps:
            if a.slug == slug:
                return a
        raise CatalogError(
            f"app {slug!r} is not in the catalog {self.source}; run `reviewmine apps` to list slugs"
        )

    def __len__(self) -> int:
        return len(self.apps)

    def __iter__(self):
        return iter(self.apps)


def shipped_catalog_path() -> Path:
    """Path of the catalog shipped inside the package."""
    return Path(str(resources.files("reviewmine.catalog").joinpath(SHIPPED_CATALOG)))


def load_catalog(path: Path | str | None = None) -> Catalog:
    """Read and validate a catalog file; ``None`` loads the shipped catalog.

    Raises ``CatalogError`` with a one-line message naming the entry, the field and the fix.
    """
    path = Path(path) if path is not None else shipped_catalog_path()
    if not path.is_file():
        raise CatalogError(f"catalog file {path} does not exist; pass an existing YAML file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise CatalogError(f"catalog {path} is not valid YAML{line}; fix the syntax") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("apps"), list):
        raise CatalogError(f"catalog {path} must have a top-level `apps:` list of entries")
    apps: list[CatalogApp] = []
    seen: set[str] = set()
    for i, entry in enumerate(data["apps"], start=1):
        app = _parse_entry(entry, i, path)
        if app.slug in seen:
            raise CatalogError(f"catalog {path}: slug {app.slug!r} appears twice; slugs must be unique")
        seen.add(app.slug)
        apps.append(app)
    if not apps:
        raise CatalogError(f"catalog {path} has an empty `apps:` list; add at least one app")
    return Catalog(apps=tuple(apps), source=str(path))


def _parse_entry(entry: object, i: int, path: Path) -> CatalogApp:
    where = f"catalog {path}, entry {i}"
    if not isinstance(entry, dict):
        raise CatalogError(f"{where} is not a mapping; each entry needs `slug:` and `name:` keys")
    slug = entry.get("slug")
    if isinstance(slug, str):
        where = f"catalog {path}, app {slug!r}"
    unknown = sorted(set(map(str, entry)) - KNOWN_KEYS)
    if unknown:
        raise CatalogError(
            f"{where}: unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(KNOWN_KEYS))}"
        )
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise CatalogError(
            f"{where}: `slug` must be lowercase letters, digits and hyphens (e.g. calm-harm), got {slug!r}"
        )
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise CatalogError(f"{where}: `name` is missing or empty")
    gp = entry.get("google_play")
    if gp is not None and (not isinstance(gp, str) or not _PACKAGE.match(gp)):
        raise CatalogError(
            f"{where}: `google_play` must be a package name like com.example.app, got {gp!r}"
        )
    ios = entry.get("app_store")
    if ios is not None:
        if isinstance(ios, bool) or not str(ios).isdigit():
            raise CatalogError(
                f"{where}: `app_store` must be the numeric App Store id (e.g. 571800810), got {ios!r}"
            )
        ios = str(int(ios))
    countries = _str_list(entry.get("countries", ["us"]), "countries", where)
    for c in countries:
        if not _COUNTRY.match(c.lower()):
            raise CatalogError(f"{where}: country {c!r} is not a two-letter code such as us or gb")
        if c.lower() == "uk":
            raise CatalogError(f"{where}: country 'uk' is not a storefront code; use 'gb'")
    languages = _str_list(entry.get("languages", ["en"]), "languages", where)
    for lang in languages:
        if not _LANGUAGE.match(lang):
            raise CatalogError(f"{where}: language {lang!r} is not a code such as en or pt-BR")
    if not countries or not languages:
        raise CatalogError(f"{where}: `countries` and `languages` must not be empty lists")
    tags = _str_list(entry.get("tags", []), "tags", where)
    status = entry.get("status", "active")
    if status not in STATUSES:
        raise CatalogError(f"{where}: `status` must be one of {', '.join(STATUSES)}, got {status!r}")
    notes = entry.get("notes") or ""
    return CatalogApp(
        slug=slug,
        name=name.strip(),
        google_play=gp,
        app_store=ios,
        countries=tuple(dict.fromkeys(c.lower() for c in countries)),
        languages=tuple(dict.fromkeys(languages)),
        tags=tuple(t.lower() for t in tags),
        status=status,
        notes=str(notes),
    )


def _str_list(value: object, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise CatalogError(f"{where}: `{key}` must be a list of strings, e.g. [us, gb]")
    return value


def filter_apps(
    catalog: Catalog,
    *,
    tag: str | None = None,
    search: str | None = None,
    store: str | None = None,
) -> list[CatalogApp]:
    """Apps with ``tag``, whose name/slug/notes contain ``search``, with an id in ``store``.

    >>> [a.slug for a in filter_apps(load_catalog(), tag="chatbot")][:2]
    ['woebot', 'wysa']
    """
    if store is not None and store not in ("google_play", "app_store"):
        raise CatalogError(f"unknown store {store!r}; use google_play or app_store")
    out = []
    for a in catalog:
        if tag and tag.lower() not in a.tags:
            continue
        if search:
            hay = " ".join([a.slug, a.name, a.notes, a.google_play or "", a.app_store or ""])
            if search.lower() not in hay.lower():
                continue
        if store and a.store_id(store) is None:
            continue
        out.append(a)
    return out


def apps(
    catalog: Path | None = None,
    tag: str | None = None,
    search: str | None = None,
    store: str | None = None,
) -> list[CatalogApp]:
    """List the apps of a catalog (the shipped one by default), filtered like ``reviewmine apps``."""
    return filter_apps(load_catalog(catalog), tag=tag, search=search, store=store)
