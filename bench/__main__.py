"""``python -m bench NAME [options]`` runs ``bench/NAME.py``'s ``main(argv)``.

Each benchmark module defines ``main(argv: list[str]) -> int`` and prints a table; with
``--json PATH`` it also writes its figures there.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def _available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if not m.name.startswith("_"))


def main() -> int:
    names = _available()
    if len(sys.argv) < 2 or sys.argv[1] in {"-h", "--help"}:
        print(f"usage: python -m bench {{{','.join(names)}}} [options]")
        return 2
    name = sys.argv[1]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{name}")
    return int(module.main(sys.argv[2:]))


if __name__ == "__main__":
    sys.exit(main())
