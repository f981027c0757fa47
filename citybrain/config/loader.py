"""Load the settings tree from YAML with CITYBRAIN_* env on top, reporting every error with
its file and line. The city's data files are read by citybrain.city_loading: config imports
nothing of citybrain (but the root errors), so every other part may depend on it."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from citybrain.config.settings import Settings
from citybrain.config.yaml_lines import describe, load_with_nodes
from citybrain.errors import ConfigError

DEFAULT_CONFIG = Path("config/citybrain.yaml")


def config_path(path: Path | None = None) -> Path:
    """The settings file: `path`, else $CITYBRAIN_CONFIG, else config/citybrain.yaml."""
    return path or Path(os.environ.get("CITYBRAIN_CONFIG", DEFAULT_CONFIG))


def load_settings(path: Path | None = None) -> Settings:
    """Settings from YAML (default config/citybrain.yaml if present) with env on top."""
    path = config_path(path)
    data: dict[str, Any] = {}
    node = None
    if path.exists():
        try:
            loaded, node = load_with_nodes(path)
        except yaml.YAMLError as e:
            raise ConfigError([f"{path}: {e}"]) from e
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError([f"{path}:1: the top level must be a mapping"])
        data = loaded or {}
    try:
        return Settings(**data)
    except ValidationError as e:
        raise ConfigError(describe(e, path, node)) from e
