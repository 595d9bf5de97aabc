"""One rewrite of a sqlglot tree applied to every node it matches, nested ones included, for the emulator
launchers (fakesnow_server.py, bqemulator_server.py), each running in its emulator's own venv.

sqlglot's Expression.transform does not descend into a node it has just replaced, so a match nested inside
another match (object_delete(object_delete(...)), json[k1] inside json[k2]) would be left as it was.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def rewrite_everywhere(expression: Any, rewrite: Callable[[Any], Any]) -> Any:
    """Apply `rewrite` pass after pass until a pass replaces nothing (each pass reaches one level deeper)."""
    while True:
        replaced = False

        def apply(node: Any) -> Any:
            nonlocal replaced
            new = rewrite(node)
            replaced = replaced or new is not node
            return new

        expression = expression.transform(apply, copy=False)
        if not replaced:
            return expression
