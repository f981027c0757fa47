"""One typed settings tree (YAML + CITYBRAIN_* env); the city's files load in city_loading."""

from citybrain.config.loader import load_settings
from citybrain.config.settings import Settings

__all__ = ["Settings", "load_settings"]
