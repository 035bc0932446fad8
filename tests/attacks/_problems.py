"""Data and numerical checks shared by the optimised-attack tests."""

import numpy as np


def problem(seed=0):
    """Binary task: three big blobs and a small one (the target)."""
    rng = np.random.RandomState(seed)
    centers = np.array([[0, 0, 0], [3, 0, 0], [0, 3, 0], [3, 3, 0]], float)
    sizes = [150, 150, 150, 40]
    X = np.vstack([rng.normal(c, 1.0, (n, 3)) for c, n in zip(centers, sizes)])
    y = (X[:, 0] + X[:, 1] + 0.5 * rng.normal(size=len(X)) > 3).astype(int)
    return X, y


def central_difference(f, Z, h=1e-6):
    """Gradient of the scalar ``f`` at ``Z`` by central differences."""
    grad = np.zeros_like(Z)
    for idx in np.ndindex(*Z.shape):
        Zp, Zm = Z.copy(), Z.copy()
        Zp[idx] += h
        Zm[idx] -= h
        grad[idx] = (f(Zp) - f(Zm)) / (2 * h)
    return grad
