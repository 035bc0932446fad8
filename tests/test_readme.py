"""The first code a user runs: the README quickstart and the docs landing page.

Both must run as written (up to running the grid search in this process, so
that warnings raised in the fits reach the test), print no warning, and attack
a small group, not the largest cluster of the table.
"""

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _readme_quickstart():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Quickstart"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def _landing_page():
    text = (ROOT / "docs" / "index.rst").read_text()
    block = re.search(r"\.\. code-block:: python\n\n((?:   .*\n|\n)+)", text).group(1)
    return "\n".join(line[3:] for line in block.splitlines())


def _run_without_warnings(code):
    namespace = {"__name__": "__main__"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a ConvergenceWarning fails the test
        exec(compile(code, "<snippet>", "exec"), namespace)
    return namespace


def test_readme_quickstart_runs_without_warnings(capsys):
    code = _readme_quickstart()
    assert "skpoison audit --data FILE --target COL" in code
    assert "n_jobs=-1" in code
    ns = _run_without_warnings(code.replace("n_jobs=-1", "n_jobs=1"))
    # the attacker's targets are clusters of 10 < n < 100 of its own rows
    sizes = ns["finder"].sizes_
    for params in ns["search"].cv_results_["params"]:
        target = params["labelflip__subpopulation"].estimator.target_
        assert 10 < sizes[target] < 100
    assert "mean_test_target" in capsys.readouterr().out


def test_landing_page_attacks_a_small_group_without_warnings(capsys):
    code = _landing_page()
    assert "skpoison audit --data FILE --target COL" in code
    ns = _run_without_warnings(code)
    pipe, X = ns["pipe"], ns["X"]
    # before: no size filter and no aux, so the default target was the largest
    # cluster of the training rows (about 900 to 1,100 poisons, 14 % of them)
    assert 0 < pipe[1].n_poison_ < 0.02 * len(X)
    assert pipe[1].subpopulation_.sizes_[pipe[1].subpopulation_.target_] < 100
    assert capsys.readouterr().out.strip()


@pytest.mark.parametrize("get", [_readme_quickstart, _landing_page])
def test_snippets_are_found(get):
    assert "from skpoison" in get()
