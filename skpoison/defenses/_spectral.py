"""The top singular direction of centred rows, shared by SEVER and spectral signatures.

Both defenses score a row by its squared projection on the top right
singular vector of a centred matrix: SEVER on per-sample loss gradients
(Diakonikolas et al., ICML 2019), spectral signatures on a layer's
representations (Tran, Li and Madry, NeurIPS 2018).
"""

import numpy as np
import scipy.linalg
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd

__all__ = ["projection_scores", "top_singular_vector"]

# The exact vector (an eigenvector of the smaller Gram matrix) when the smaller
# side of the matrix is at most this; a seeded randomized SVD otherwise.
_EXACT_MAX_SIDE = 1000


def top_singular_vector(Rc, random_state=None):
    """Top right singular vector of the (centred) matrix ``Rc``, float64.

    Exact from the eigendecomposition of the smaller Gram matrix
    (``Rc.T @ Rc`` or ``Rc @ Rc.T``) when that side is at most 1,000; a
    seeded :func:`~sklearn.utils.extmath.randomized_svd` (7 power
    iterations) otherwise. The sign is arbitrary.
    """
    n, d = Rc.shape
    if min(n, d) <= _EXACT_MAX_SIDE:
        if d <= n:
            G = (Rc.T @ Rc).astype(np.float64, copy=False)
            _, vecs = scipy.linalg.eigh(G, subset_by_index=[d - 1, d - 1],
                                        check_finite=False)
            return vecs[:, 0]
        K = (Rc @ Rc.T).astype(np.float64, copy=False)
        _, vecs = scipy.linalg.eigh(K, subset_by_index=[n - 1, n - 1],
                                    check_finite=False)
        v = Rc.T.astype(np.float64, copy=False) @ vecs[:, 0]
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else v
    _, _, Vt = randomized_svd(Rc, 1, n_iter=7,
                              random_state=check_random_state(random_state))
    return Vt[0].astype(np.float64, copy=False)


def projection_scores(R, random_state=None):
    """Squared projection of each centred row of ``R`` on its top singular vector.

    Parameters
    ----------
    R : ndarray of shape (n_samples, n_dims)
        Rows of one group (a class). float32 input is centred in float32
        (large representations are not copied to float64).
    random_state : int, RandomState instance or None, default=None
        Seeds the randomized SVD of large matrices.

    Returns
    -------
    scores : ndarray of float64 of shape (n_samples,)
        ``((R_i - mean) . v) ** 2``; zeros when ``R`` has fewer than two rows,
        no columns or no spread.

    Examples
    --------
    >>> import numpy as np
    >>> from skpoison.defenses._spectral import projection_scores
    >>> R = np.array([[0.0, 0.1], [0.0, -0.1], [0.1, 0.0], [3.0, 0.0]])
    >>> int(np.argmax(projection_scores(R)))
    3
    """
    R = np.asarray(R)
    if not np.issubdtype(R.dtype, np.floating):
        R = R.astype(np.float64)
    if R.shape[0] < 2 or R.shape[1] == 0:
        return np.zeros(R.shape[0])
    Rc = R - R.mean(axis=0, dtype=np.float64).astype(R.dtype, copy=False)
    if not np.any(Rc):
        return np.zeros(R.shape[0])
    v = top_singular_vector(Rc, random_state)
    return (Rc @ v.astype(Rc.dtype, copy=False)).astype(np.float64) ** 2
