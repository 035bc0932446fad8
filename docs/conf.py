"""Sphinx configuration for skpoison.

The API reference (``api.rst``) is generated at build time from the ``__all__``
of every public subpackage, so a new public name can never be missing from it.
The gallery is built from ``examples/`` by sphinx-gallery; set the environment
variable ``SKPOISON_DOCS_PLOT=0`` to build without executing the examples (the
test suite executes every example anyway, see ``tests/test_examples.py``).
"""

import importlib
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import skpoison  # noqa: E402

project = "skpoison"
author = "The skpoison developers"
copyright = "2026, The skpoison developers"
release = skpoison.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "generated/*.examples"]
html_theme = "pydata_sphinx_theme"
html_title = "skpoison"
html_theme_options = {
    "navigation_with_keys": False,
    "show_prev_next": False,
}
html_static_path = []
# Everything stays offline: no intersphinx inventories, no remote assets.

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

PLOT = os.environ.get("SKPOISON_DOCS_PLOT", "1") != "0"
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "plot_gallery": PLOT,
    "download_all_examples": False,
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
}

SUBPACKAGES = {
    "skpoison.subpopulations": "Subpopulation finders",
    "skpoison.attacks": "Attacks",
    "skpoison.defenses": "Defenses",
    "skpoison.metrics": "Metrics and scorers",
    "skpoison.pipeline": "Composition",
    "skpoison.nets": "Models (torch / skorch)",
    "skpoison.features": "Pretrained feature extractors",
    "skpoison.datasets": "Datasets",
    "skpoison.audit": "Audit",
}


def write_api_reference(app=None):
    """Write ``api.rst`` from the ``__all__`` of each public subpackage."""
    lines = [
        ".. _api:",
        "",
        "API reference",
        "=============",
        "",
        "Generated from each subpackage's ``__all__``.",
        "",
    ]
    for name, title in SUBPACKAGES.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        lines += [
            title,
            "-" * len(title),
            "",
            f".. automodule:: {name}",
            "   :no-members:",
            "   :no-inherited-members:",
            "",
            f".. currentmodule:: {name}",
            "",
            ".. autosummary::",
            "   :toctree: generated/",
            "   :template: autosummary.rst",
            "",
        ]
        lines += [f"   {obj}" for obj in sorted(module.__all__)]
        lines.append("")
    text = "\n".join(lines)
    path = HERE / "api.rst"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


write_api_reference()


def skip_foreign_members(app, what, name, obj, skip, options):
    """Document only members defined in skpoison.

    Methods inherited from scikit-learn, imbalanced-learn or skorch
    (``get_params``, ``set_fit_request``, ...) are documented there; their
    docstrings refer to those projects' own glossaries.
    """
    if skip or what != "class":
        return skip
    func = getattr(obj, "fget", obj)
    func = getattr(func, "__func__", func)
    module = getattr(func, "__module__", None) or ""
    if module and not module.startswith("skpoison"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", skip_foreign_members)
