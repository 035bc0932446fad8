"""Scale-out: the audit on a Dask distributed cluster equals the local run."""

import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from skpoison.__main__ import main
from skpoison.audit import SubpopulationAudit
from skpoison.defenses import TRIM
from skpoison.subpopulations import ClusterMatch

from .test_store import TIMING, job

distributed = pytest.importorskip("distributed", reason="dask.distributed not installed")


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        yield cluster


def _audit(**kw):
    return SubpopulationAudit(
        LogisticRegression(), finders={"cm": ClusterMatch(n_clusters=8, random_state=0)},
        alphas=[2], seeds=[0, 1], defenses={"none": None, "trim": TRIM(None, max_iter=2)},
        progress=False, **kw)


def test_dask_backend_equals_local(cluster, tmp_path):
    expected = _audit(n_jobs=1).run(*job.data())
    with distributed.Client(cluster):
        audit = _audit(backend="dask", store=tmp_path / "audit.sqlite")
        got = audit.run(*job.data())
    assert audit.n_computed_ == len(expected) == 8 * 2 * 2
    pd.testing.assert_frame_equal(expected.drop(columns=TIMING), got.drop(columns=TIMING))


def test_cli_scheduler(cluster, tmp_path, capsys):
    args = ["audit", "--filters", "ClusterMatch", "--alphas", "2", "--defenses", "none",
            "--max-subpopulations", "2", "--quiet", "--no-store"]
    assert main([*args, "--n-jobs", "1", "--out", str(tmp_path / "local")]) == 0
    assert main([*args, "--scheduler", cluster.scheduler_address,
                 "--out", str(tmp_path / "dask")]) == 0
    assert f"Dask cluster at {cluster.scheduler_address}" in capsys.readouterr().out
    local = pd.read_csv(tmp_path / "local" / "results.csv")
    dask = pd.read_csv(tmp_path / "dask" / "results.csv")
    pd.testing.assert_frame_equal(local.drop(columns=TIMING), dask.drop(columns=TIMING))
