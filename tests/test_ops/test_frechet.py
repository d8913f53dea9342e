import numpy as np
import pytest
import scipy.linalg
import torch

from mmmix.ops import feature_statistics, frechet_distance
from mmmix.ops import frechet as frechet_mod


def random_spd(d, rng, rank=None):
    a = rng.standard_normal((d, rank or d))
    return a @ a.T / d + (0 if rank else 0.1 * np.eye(d))


def fd_of_sets(x, y):
    return frechet_distance(*feature_statistics(x), *feature_statistics(y))


def test_feature_statistics_matches_numpy():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((50, 7)).astype(np.float32)
    mu, sigma = feature_statistics(torch.from_numpy(x))
    assert mu.dtype == sigma.dtype == torch.float64
    np.testing.assert_allclose(mu.numpy(), x.astype(np.float64).mean(0),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(sigma.numpy(),
                               np.cov(x.astype(np.float64), rowvar=False),
                               rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match='n >= 2'):
        feature_statistics(x[:1])
    with pytest.raises(ValueError, match='2-D'):
        feature_statistics(x[0])


@pytest.mark.parametrize('n,d', [(200, 16), (40, 300)])
def test_same_set_gives_zero(n, d):
    x = torch.rand(n, d, generator=torch.Generator().manual_seed(n)) * 2 - 1
    assert abs(fd_of_sets(x, x)) <= 1e-6


def test_diagonal_gaussians_closed_form():
    # By hand: for commuting diagonal covariances the trace term is
    # sum (sqrt(a_i) - sqrt(b_i))^2.
    mu1 = np.array([0.0, 1.0, -2.0])
    mu2 = np.array([1.0, 1.0, 0.0])
    a = np.array([1.0, 4.0, 9.0])
    b = np.array([4.0, 1.0, 0.25])
    expected = 1 + 0 + 4 + (1 - 2)**2 + (2 - 1)**2 + (3 - 0.5)**2
    assert expected == pytest.approx(13.25)
    got = frechet_distance(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(13.25, abs=1e-10)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2 with standard deviations s
    assert frechet_distance(np.array([0.5]), np.array([[0.09]]),
                            np.array([-0.5]), np.array([[0.64]])) == \
        pytest.approx(1 + 0.25, abs=1e-12)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_full_gaussians_vs_scipy_sqrtm(seed):
    rng = np.random.default_rng(seed)
    d = 6
    s1, s2 = random_spd(d, rng), random_spd(d, rng)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    expected = (np.sum((mu1 - mu2)**2) + np.trace(s1) + np.trace(s2) -
                2 * np.trace(covmean).real)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-10)
    assert got > 0.1


def test_symmetric_and_non_negative():
    rng = np.random.default_rng(3)
    for d in (1, 5, 20):
        for scale in (1e-3, 1.0):
            s1, s2 = random_spd(d, rng), random_spd(d, rng)
            s2 = s1 + scale * (s2 - s1)  # also nearly equal pairs
            mu1 = rng.standard_normal(d)
            mu2 = mu1 + scale * rng.standard_normal(d)
            ab = frechet_distance(mu1, s1, mu2, s2)
            ba = frechet_distance(mu2, s2, mu1, s1)
            assert ab >= 0 and ba >= 0
            assert ab == pytest.approx(ba, rel=1e-9, abs=1e-12)


def test_translation_adds_squared_norm():
    g = torch.Generator().manual_seed(4)
    x = torch.randn(300, 10, generator=g, dtype=torch.float64)
    v = torch.randn(10, generator=g, dtype=torch.float64)
    assert fd_of_sets(x, x + v) == pytest.approx(float(v @ v), rel=1e-9)
    y = torch.randn(300, 10, generator=g, dtype=torch.float64) * 1.5
    assert fd_of_sets(x, y + v) - fd_of_sets(x, y) == pytest.approx(
        float(v @ v) + 2 * float(v @ (y.mean(0) - x.mean(0))), rel=1e-9)


def test_rank_deficient_matches_small_svd_oracle():
    # n < d: eig(S1 S2) are the squared singular values of
    # Xc Yc^T / sqrt((n1 - 1)(n2 - 1)), an n1 x n2 matrix (eig(AB) = eig(BA))
    rng = np.random.default_rng(5)
    d, n1, n2 = 200, 30, 25
    x = rng.uniform(-1, 1, (n1, d))
    y = rng.uniform(-1, 1, (n2, d)) + 0.05
    got = fd_of_sets(x, y)
    xc, yc = x - x.mean(0), y - y.mean(0)
    tr_sqrt = np.linalg.svd(
        xc @ yc.T, compute_uv=False).sum() / np.sqrt((n1 - 1) * (n2 - 1))
    expected = (np.sum((x.mean(0) - y.mean(0))**2) +
                np.trace(np.cov(x, rowvar=False)) +
                np.trace(np.cov(y, rowvar=False)) - 2 * tr_sqrt)
    assert np.isfinite(got)
    assert got == pytest.approx(expected, rel=1e-8)


def test_eps_fallback_keeps_zero(monkeypatch):
    calls = []
    real = frechet_mod._psd_sqrt

    def flaky(s):
        calls.append(1)
        if len(calls) == 1:
            raise torch.linalg.LinAlgError('did not converge')
        return real(s)

    monkeypatch.setattr(frechet_mod, '_psd_sqrt', flaky)
    x = torch.randn(100, 4, generator=torch.Generator().manual_seed(6))
    mu, s = feature_statistics(x)
    assert abs(frechet_distance(mu, s, mu, s, eps=1e-3)) <= 1e-9
    assert len(calls) == 3  # one failure, then both roots with the offset


def test_bad_inputs_name_the_field():
    mu, s = np.zeros(3), np.eye(3)
    with pytest.raises(ValueError, match='sigma2'):
        frechet_distance(mu, s, mu, np.eye(2))
    with pytest.raises(ValueError, match='mu1 and mu2'):
        frechet_distance(mu, s, np.zeros(2), s)
    with pytest.raises(ValueError, match='eps'):
        frechet_distance(mu, s, mu, s, eps=-1)
    with pytest.raises(ValueError, match='sigma1'):
        frechet_distance(mu, np.full((3, 3), np.nan), mu, s)
