"""Where the database and the broker are: the URLs from the settings, or the
embedded servers of the data directory when a URL is not set."""

from __future__ import annotations

from shared import embedded
from shared.config import Settings


def connect(settings: Settings) -> Settings:
    """Answer settings whose URLs are both set, starting embedded servers for
    the ones the environment left out."""
    if not settings.uses_embedded_services:
        return settings
    database_url, redis_url = embedded.attach(settings.data_dir)
    return settings.with_urls(settings.database_url or database_url, settings.redis_url or redis_url)
