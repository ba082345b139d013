"""Multinomial logistic regression as MTEB fits it: scikit-learn's ``LogisticRegression(max_iter=100)``.

The same problem sklearn's lbfgs solver minimises (L2 penalty C=1 on the weights, none on the
intercepts, the loss averaged over samples, all K classes parametrised), handed to the same optimiser
(scipy's L-BFGS-B with sklearn's settings: ``maxiter``, ``maxls=50``, ``gtol=tol``, ``ftol=64 eps``)
from the same start (zeros). The objective and its gradient are a few lines of numpy; scikit-learn would
add a 40 MB dependency for them.
"""

from __future__ import annotations

import numpy as np


def _softmax_loss(w: np.ndarray, x: np.ndarray, onehot: np.ndarray, l2: float) -> tuple[float, np.ndarray]:
    k, d = onehot.shape[1], x.shape[1]
    coef = w.reshape(k, d + 1)
    logits = x @ coef[:, :d].T + coef[:, d]
    logits -= logits.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(logits).sum(axis=1, keepdims=True))
    log_p = logits - log_norm
    n = x.shape[0]
    loss = -float((onehot * log_p).sum()) / n + 0.5 * l2 * float((coef[:, :d] ** 2).sum())
    diff = (np.exp(log_p) - onehot) / n
    grad = np.empty_like(coef)
    grad[:, :d] = diff.T @ x + l2 * coef[:, :d]
    grad[:, d] = diff.sum(axis=0)
    return loss, grad.ravel()


class LogisticRegression:
    def __init__(self, c: float = 1.0, max_iter: int = 100, tol: float = 1e-4) -> None:
        self.c, self.max_iter, self.tol = c, max_iter, tol
        self.classes: np.ndarray | None = None
        self.coef: np.ndarray | None = None
        self.iterations = 0

    def fit(self, x: np.ndarray, y: np.ndarray) -> LogisticRegression:
        from scipy.optimize import minimize

        x = np.asarray(x, dtype=np.float64)
        self.classes, codes = np.unique(y, return_inverse=True)
        onehot = np.eye(len(self.classes))[codes]
        w0 = np.zeros(len(self.classes) * (x.shape[1] + 1))
        result = minimize(_softmax_loss, w0, args=(x, onehot, 1.0 / (self.c * x.shape[0])), method="L-BFGS-B", jac=True,
                          options={"maxiter": self.max_iter, "maxls": 50, "gtol": self.tol,
                                   "ftol": 64 * np.finfo(float).eps})
        self.coef = result.x.reshape(len(self.classes), x.shape[1] + 1)
        self.iterations = int(result.nit)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        assert self.coef is not None and self.classes is not None, "fit first"
        d = self.coef.shape[1] - 1
        scores = np.asarray(x, dtype=np.float64) @ self.coef[:, :d].T + self.coef[:, d]
        return self.classes[np.argmax(scores, axis=1)]


def knn_predict(train: np.ndarray, labels: np.ndarray, test: np.ndarray, k: int = 3) -> np.ndarray:
    """k nearest neighbours by cosine similarity, majority vote; a tie goes to the smallest label
    (scikit-learn's KNeighborsClassifier with uniform weights, metric cosine)."""
    unit = lambda m: m / np.clip(np.linalg.norm(m, axis=1, keepdims=True), 1e-12, None)  # noqa: E731
    sims = unit(np.asarray(test, dtype=np.float64)) @ unit(np.asarray(train, dtype=np.float64)).T
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    classes, codes = np.unique(labels, return_inverse=True)
    votes = np.zeros((len(test), len(classes)), dtype=np.int64)
    for column in nearest.T:
        votes[np.arange(len(test)), codes[column]] += 1
    return classes[np.argmax(votes, axis=1)]
