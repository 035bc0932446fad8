"""Private scikit-learn and imbalanced-learn names come in through one module."""

import ast
from pathlib import Path

import skpoison

PACKAGE = Path(skpoison.__file__).parent
UPSTREAM = ("sklearn", "imblearn")


def _private_imports(path):
    """``module: name`` for each private upstream name ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            if parts[0] not in UPSTREAM:
                continue
            private_module = any(p.startswith("_") for p in parts)
            for alias in node.names:
                if private_module or alias.name.startswith("_"):
                    found.append(f"{node.module}: {alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in UPSTREAM and any(p.startswith("_") for p in parts):
                    found.append(alias.name)
    return found


def test_private_upstream_names_only_through_compat():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).as_posix() == "utils/_compat.py":
            continue
        found = _private_imports(path)
        if found:
            offenders[path.relative_to(PACKAGE).as_posix()] = found
    assert not offenders, (
        "private scikit-learn/imbalanced-learn names imported outside "
        f"skpoison/utils/_compat.py: {offenders}")


def test_the_check_sees_a_private_import(tmp_path):
    path = tmp_path / "mod.py"
    path.write_text("from sklearn.utils import (\n    Bunch,\n    _safe_indexing,\n)\n"
                    "from sklearn.utils._param_validation import Interval\n")
    assert _private_imports(path) == ["sklearn.utils: _safe_indexing",
                                      "sklearn.utils._param_validation: Interval"]
