"""Map pydantic error locations back to the line of the YAML (or JSON) file they came from."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError


def load_with_nodes(path: Path) -> tuple[Any, yaml.Node | None]:
    """Parse a YAML/JSON file into data and its node tree (for line numbers)."""
    text = path.read_text(encoding="utf-8")
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    data = yaml.safe_load(text)
    return data, node


def line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node along `loc` that exists in the file."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for key in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.value == str(key):
                    child = v
                    line = k.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
            line = child.start_mark.line + 1
        if child is None:
            break
        node = child
    return line


def describe(
    err: ValidationError,
    path: Path,
    node: yaml.Node | None,
    loc_prefix: Sequence[str | int] = (),
    file_loc: Sequence[str | int] = (),
) -> list[str]:
    """One `file:line: where: message` string per error.

    `loc_prefix` is stripped from each error location (the part of the model above this file);
    `file_loc` is prepended to reach the node in this file's own tree.
    """
    out = []
    for e in err.errors():
        loc = list(e["loc"])
        if loc[: len(loc_prefix)] == list(loc_prefix):
            loc = loc[len(loc_prefix) :]
        where = ".".join(str(p) for p in (*file_loc, *loc)) or "(top)"
        line = line_of(node, [*file_loc, *loc])
        out.append(f"{path}:{line or '?'}: {where}: {e['msg']}")
    return out
