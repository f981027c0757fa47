"""One typed settings tree (YAML + CITYBRAIN_* env) and the loader of the city's data files."""

from citybrain.config.loader import load_all, load_city, load_settings
from citybrain.config.settings import Settings

__all__ = ["Settings", "load_all", "load_city", "load_settings"]
