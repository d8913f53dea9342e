"""Fréchet distance between two Gaussians fitted to feature sets.

``FD = ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})`` (Heusel et al.,
2017, "FID" when the features come from Inception). All the maths runs in
float64 torch, on the device of the inputs.

``Tr (S1 S2)^{1/2}`` is the sum of the square roots of the eigenvalues of
``S1 S2``. These equal the eigenvalues of the symmetric PSD matrix
``S1^{1/2} S2 S1^{1/2} = A A^T`` with ``A = S1^{1/2} S2^{1/2}``, so the trace
is the sum of the singular values of ``A`` (its nuclear norm). Both square
roots come from ``eigh`` with negative round-off eigenvalues clamped to 0.
Taking singular values of ``A`` instead of square roots of eigenvalues of
``A A^T`` avoids the square root of round-off: for rank-deficient
covariances (fewer samples than dimensions) the ``(d - n)`` zero eigenvalues
of ``A A^T`` come out as +-1e-16 * ||S||^2 and their square roots add up to
1e-5-sized errors, while their singular values stay at round-off level.
Nothing needs ``scipy.linalg.sqrtm``: no complex parts, no offset on the
diagonal in the usual case.
"""
from typing import Tuple, Union

import numpy as np
import torch

ArrayLike = Union[torch.Tensor, np.ndarray]


def _as_float64(x: ArrayLike, name: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not torch.is_tensor(x):
        raise TypeError(f'{name} must be a tensor or numpy array, got '
                        f'{type(x).__name__}')
    x = x.detach().to(torch.float64)
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f'{name} has non-finite values')
    return x


def feature_statistics(feats: ArrayLike) -> Tuple[torch.Tensor, torch.Tensor]:
    """Mean and unbiased covariance of a feature set, in float64.

    Args:
        feats (Tensor | ndarray): ``(n, d)`` features, one row a sample,
            ``n >= 2``.

    Returns:
        tuple: ``(mu, sigma)``: ``(d,)`` mean and ``(d, d)`` covariance
        with the ``n - 1`` normalisation (``np.cov(feats, rowvar=False)``).
    """
    x = _as_float64(feats, 'feats')
    if x.dim() != 2 or x.shape[0] < 2:
        raise ValueError('feats must be 2-D (n, d) with n >= 2 samples, got '
                         f'shape {tuple(x.shape)}')
    mu = x.mean(dim=0)
    xc = x - mu
    sigma = xc.T @ xc / (x.shape[0] - 1)
    return mu, sigma


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    """Symmetric square root of a PSD matrix (negative eigenvalues -> 0)."""
    evals, evecs = torch.linalg.eigh(s)
    return (evecs * evals.clamp(min=0).sqrt()) @ evecs.T


def trace_sqrt_product(sigma1: ArrayLike, sigma2: ArrayLike,
                       eps: float = 1e-6) -> torch.Tensor:
    """``Tr (S1 S2)^{1/2}`` for two PSD matrices, in float64.

    The sum of the singular values of ``S1^{1/2} S2^{1/2}`` (module
    docstring). When an eigendecomposition does not converge or gives
    non-finite values, ``eps * I`` is added to both matrices and the
    computation repeated once.
    """
    s1 = _as_float64(sigma1, 'sigma1')
    s2 = _as_float64(sigma2, 'sigma2')
    return _trace_sqrt_product(s1, s2, eps)[0]


def _trace_sqrt_product(s1: torch.Tensor, s2: torch.Tensor,
                        eps: float) -> Tuple[torch.Tensor, float]:
    """The trace and the diagonal offset it needed (0 or ``eps``)."""
    s1 = (s1 + s1.T) / 2
    s2 = (s2 + s2.T) / 2
    for offset in (0.0, eps):
        eye = torch.eye(s1.shape[0], dtype=s1.dtype, device=s1.device)
        try:
            a = _psd_sqrt(s1 + offset * eye) @ _psd_sqrt(s2 + offset * eye)
            tr = torch.linalg.svdvals(a).sum()
        except torch.linalg.LinAlgError:
            continue
        if bool(torch.isfinite(tr)):
            return tr, offset
    raise ValueError(f'Tr (S1 S2)^(1/2) is not finite even with eps={eps} '
                     'added to the diagonals; check the covariances')


def frechet_distance(mu1: ArrayLike,
                     sigma1: ArrayLike,
                     mu2: ArrayLike,
                     sigma2: ArrayLike,
                     eps: float = 1e-6) -> float:
    """Fréchet distance between ``N(mu1, sigma1)`` and ``N(mu2, sigma2)``.

    Args:
        mu1 (Tensor | ndarray): ``(d,)`` mean of the first set.
        sigma1 (Tensor | ndarray): ``(d, d)`` PSD covariance of the first.
        mu2 (Tensor | ndarray): ``(d,)`` mean of the second set.
        sigma2 (Tensor | ndarray): ``(d, d)`` PSD covariance of the second.
        eps (float): diagonal offset, ``>= 0``, used only when an
            eigendecomposition fails or gives non-finite values; it is then
            added to both covariances in every term, so that ``FD(X, X)``
            stays 0.

    Returns:
        float: ``||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2})``, clamped
        at 0 (round-off can make it -1e-12).
    """
    if not eps >= 0:
        raise ValueError(f'eps must be >= 0, got {eps!r}')
    m1, m2 = _as_float64(mu1, 'mu1'), _as_float64(mu2, 'mu2')
    s1, s2 = _as_float64(sigma1, 'sigma1'), _as_float64(sigma2, 'sigma2')
    if m1.dim() != 1 or m1.shape != m2.shape:
        raise ValueError('mu1 and mu2 must be 1-D of the same length, got '
                         f'{tuple(m1.shape)} and {tuple(m2.shape)}')
    d = m1.shape[0]
    for name, s in (('sigma1', s1), ('sigma2', s2)):
        if s.shape != (d, d):
            raise ValueError(f'{name} must be ({d}, {d}) to match the '
                             f'means, got {tuple(s.shape)}')
    m1, m2, s2 = m1.to(s1.device), m2.to(s1.device), s2.to(s1.device)
    tr_sqrt, offset = _trace_sqrt_product(s1, s2, eps)
    diff = m1 - m2
    fd = (diff @ diff + torch.trace(s1) + torch.trace(s2) + 2 * offset * d -
          2 * tr_sqrt)
    return max(float(fd), 0.0)
