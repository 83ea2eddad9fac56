"""Resampling over documents: bootstrap confidence intervals and paired tests of micro F1.

Pure numpy over per-document ``(tp, fp, fn)`` count matrices of shape ``(documents, 3)``
(:func:`clinical_ner.metrics.count_matrix` builds them from matched spans):

* :func:`f1_from_totals`: micro F1 of pooled counts, vectorised;
* :func:`bootstrap_f1_ci`: percentile bootstrap interval of micro F1;
* :func:`paired_difference`: paired bootstrap or approximate randomization test of the F1
  difference of two systems scored on the same documents (the numbers behind
  :func:`clinical_ner.metrics.paired_test`).

Every draw uses ``numpy.random.default_rng(seed)``: reproducible for a fixed seed, and with the
same seed every measure uses the same resamples.
"""

from __future__ import annotations

import numpy as np

#: Methods of :func:`paired_difference`.
PAIRED_METHODS = ("bootstrap", "randomization")


def f1_from_totals(totals: np.ndarray) -> np.ndarray:
    """Micro F1 for pooled counts of shape ``(..., 3)`` (tp, fp, fn); 0 where undefined.

    Same arithmetic as :func:`clinical_ner.metrics.prf` (harmonic mean of P and R), vectorised.
    """
    totals = np.asarray(totals, dtype=np.float64)
    tp, fp, fn = totals[..., 0], totals[..., 1], totals[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def check_confidence(confidence: float) -> None:
    """Raise ValueError unless ``0 < confidence < 1``."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _resample_weights(rng: np.random.Generator, n_docs: int, n: int) -> np.ndarray:
    """``(n, n_docs)`` bootstrap weights: how often each document is drawn, with replacement."""
    return rng.multinomial(n_docs, np.full(n_docs, 1.0 / n_docs), size=n)


def _percentile_ci(values: np.ndarray, confidence: float) -> list[float]:
    alpha = 1.0 - confidence
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return [float(low), float(high)]


def bootstrap_f1_ci(
    counts: np.ndarray, *, n: int = 1000, seed: int = 12345, confidence: float = 0.95
) -> list[float]:
    """Percentile bootstrap CI ``[low, high]`` of pooled micro F1, resampling documents.

    Input: ``counts`` of shape ``(documents, 3)`` (:func:`clinical_ner.metrics.count_matrix`).
    Each of ``n`` resamples draws the documents with replacement
    (``numpy.random.default_rng(seed)``, as multinomial weights, so 1000 resamples of 500
    documents is one small matrix product) and recomputes F1 from the pooled tp/fp/fn.
    Reproducible for a fixed seed; with the same seed every measure uses the same resamples. No
    documents gives ``[0.0, 0.0]``. Raises ``ValueError`` for ``n < 1`` or ``confidence``
    outside (0, 1). Source: standard percentile bootstrap (Efron & Tibshirani).
    """
    check_confidence(confidence)
    if n < 1:
        raise ValueError(f"bootstrap needs n >= 1 resamples, got {n}")
    counts = np.asarray(counts, dtype=np.int64).reshape(-1, 3)
    if len(counts) == 0:
        return [0.0, 0.0]
    rng = np.random.default_rng(seed)
    weights = _resample_weights(rng, len(counts), n)
    return _percentile_ci(f1_from_totals(weights @ counts), confidence)


def check_paired_args(method: str, n: int, confidence: float) -> None:
    """Raise ValueError for an unknown paired-test method, ``n < 1`` or a bad confidence."""
    if method not in PAIRED_METHODS:
        raise ValueError(f"method must be 'bootstrap' or 'randomization', got {method!r}")
    if n < 1:
        raise ValueError(f"paired_test needs n >= 1, got {n}")
    check_confidence(confidence)


def paired_difference(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n: int = 1000,
    seed: int = 12345,
    method: str = "bootstrap",
    confidence: float = 0.95,
) -> dict:
    """Paired test of the micro-F1 difference B minus A of two ``(documents, 3)`` count matrices
    whose rows are the same documents (see :func:`clinical_ner.metrics.paired_test` for the
    methods). Returns ``{f1_a, f1_b, difference, difference_ci, p_value}``. Raises ValueError
    for an unknown method, ``n < 1``, a bad ``confidence`` or no documents.
    """
    check_paired_args(method, n, confidence)
    if len(a) == 0:
        raise ValueError("paired_test needs at least one document")
    f1_a, f1_b = float(f1_from_totals(a.sum(0))), float(f1_from_totals(b.sum(0)))
    observed = f1_b - f1_a
    weights = _resample_weights(np.random.default_rng(seed), len(a), n)
    boot = f1_from_totals(weights @ b) - f1_from_totals(weights @ a)
    if method == "bootstrap":
        p_value = min(1.0, 2.0 * min(float(np.mean(boot <= 0)), float(np.mean(boot >= 0))))
    else:
        swap = np.random.default_rng(seed).random((n, len(a))) < 0.5
        delta = swap.astype(np.int64) @ (b - a)  # moves swapped documents' counts across
        perm = f1_from_totals(b.sum(0) - delta) - f1_from_totals(a.sum(0) + delta)
        hits = int(np.sum(np.abs(perm) >= abs(observed) - 1e-12))
        p_value = (hits + 1) / (n + 1)
    return {"f1_a": f1_a, "f1_b": f1_b, "difference": observed,
            "difference_ci": _percentile_ci(boot, confidence), "p_value": float(p_value)}
