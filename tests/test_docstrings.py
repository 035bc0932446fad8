"""Every public class and function links its user-guide page, which exists."""

import importlib
import inspect
import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"
LABELS = {m.group(1) for page in DOCS.rglob("*.rst")
          for m in re.finditer(r"^\.\. _([\w-]+):", page.read_text(), re.M)}
MODULES = ["skpoison.attacks", "skpoison.defenses", "skpoison.subpopulations", "skpoison.audit", "skpoison.datasets",
           "skpoison.metrics", "skpoison.nets", "skpoison.features",
           "skpoison.pipeline"]
PUBLIC = [(m, name) for m in MODULES
          for name in importlib.import_module(m).__all__
          if not name.startswith("Base")]


@pytest.mark.parametrize("module, name", PUBLIC,
                         ids=[f"{m}.{n}" for m, n in PUBLIC])
def test_links_the_user_guide(module, name):
    obj = getattr(importlib.import_module(module), name)
    if not (inspect.isclass(obj) or inspect.isfunction(obj)):
        pytest.skip("not a class or function")
    doc = inspect.getdoc(obj) or ""
    found = re.findall(r"Read more in the :ref:`User Guide <([\w-]+)>`", doc)
    assert found, f"{module}.{name} has no 'Read more in the User Guide' line"
    assert set(found) <= LABELS, f"unknown user-guide label(s) {found}"
    assert "paper-spec" not in doc and "house rule" not in doc


def test_no_family_imports_another_familys_private_modules():
    # private code shared across families lives in skpoison/utils
    package = pathlib.Path(__file__).resolve().parents[1] / "skpoison"
    pattern = re.compile(r"from \.\.(\w+)\._\w+ import|import skpoison\.(\w+)\._")
    offenders = []
    for path in package.rglob("*.py"):
        for match in pattern.finditer(path.read_text()):
            family = match.group(1) or match.group(2)
            if family != "utils":
                offenders.append(f"{path.relative_to(package)}: {match.group(0)}")
    assert not offenders, offenders
