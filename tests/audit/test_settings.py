

def test_confidence_order_caches_on_content_not_identity():
    # the old by_confidence cached its model on id(X_aux): a new array at a
    # recycled address silently reused the model fitted on other rows
    import numpy as np
    import pytest
    from sklearn.linear_model import LogisticRegression

    from skpoison.audit import ConfidenceOrder, by_confidence
    from skpoison.subpopulations import ClusterMatch

    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] > 0).astype(int)
    finder = ClusterMatch(n_clusters=3, random_state=0).fit(X)
    order = ConfidenceOrder(LogisticRegression())
    order("cm", finder, X, y)
    first = order.model_
    order("cm", finder, X.copy(), y.copy())  # equal rows: the same fit
    assert order.model_ is first
    X[:, 0] *= -1  # the same object, other rows: refitted
    order("cm", finder, X, y)
    assert order.model_ is not first
    with pytest.warns(FutureWarning, match="ConfidenceOrder"):
        by_confidence(LogisticRegression())
