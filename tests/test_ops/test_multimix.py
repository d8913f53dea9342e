import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmix.ops.multimix import (
    dense_attention,
    dense_multimix_loss,
    dirichlet_weights,
    multimix,
)


def soft_ce(logits, target):
    return -(target * logits.log_softmax(-1)).sum(-1)


def test_dirichlet_columns_are_convex_weights():
    torch.manual_seed(0)
    lam = dirichlet_weights(6, 40)
    assert lam.shape == (6, 40) and (lam >= 0).all()
    torch.testing.assert_close(lam.sum(0), torch.ones(40))
    sub = dirichlet_weights(6, 40, m=2)
    assert ((sub > 0).sum(0) == 2).all()
    torch.testing.assert_close(sub.sum(0), torch.ones(40))
    dense = dirichlet_weights(5, 7, groups=(3, ))
    assert dense.shape == (3, 5, 7)
    torch.testing.assert_close(dense.sum(1), torch.ones(3, 7))


def test_dirichlet_statistics_match_the_spec():
    # spec B3.1, m = 128, alpha ~ U[0.5, 2]: mean largest weight ~0.040,
    # median effective number of examples 1 / sum(lam^2) ~73
    torch.manual_seed(0)
    lam = dirichlet_weights(128, 4000).double()
    assert abs(lam.max(0).values.mean().item() - 0.040) < 0.004
    eff = (1 / lam.pow(2).sum(0)).median().item()
    assert abs(eff - 73) < 5
    # fixed alpha: E[lam_i] = 1/m and Var = (m - 1) / (m^2 (m alpha + 1))
    lam = dirichlet_weights(4, 20000, alpha=2.0).double()
    np.testing.assert_allclose(lam.mean(1).numpy(), 0.25, atol=0.005)
    np.testing.assert_allclose(lam.var(1).numpy(), 3 / (16 * 9), rtol=0.05)


def test_mixing_logits_equals_mixing_embeddings():
    torch.manual_seed(1)
    z = torch.randn(8, 16, dtype=torch.float64)
    y = F.one_hot(torch.arange(8) % 3, 3).double()
    fc = torch.nn.Linear(16, 3).double()
    lam = dirichlet_weights(8, 50, dtype=torch.float64)
    mixed_logits, mixed_y = multimix(fc(z), y, lam)
    mixed_z, _ = multimix(z, y, lam)
    torch.testing.assert_close(mixed_logits, fc(mixed_z))
    torch.testing.assert_close(mixed_y, lam.t() @ y)
    # identity weights give the batch back
    same, same_y = multimix(z, y, torch.eye(8, dtype=torch.float64))
    assert torch.equal(same, z) and torch.equal(same_y, y)


def test_attention_options():
    feats = torch.tensor([[[1., 3.], [0., 2.]]])  # b=1, d=2, r=2
    # GAP: u = (2, 1); z^T u = (2, 8) -> l1: (0.2, 0.8)
    torch.testing.assert_close(dense_attention(feats),
                               torch.tensor([[0.2, 0.8]]))
    torch.testing.assert_close(dense_attention(feats, act='softmax'),
                               torch.tensor([[2., 8.]]).softmax(-1))
    torch.testing.assert_close(dense_attention(feats, 'none'),
                               torch.tensor([[0.5, 0.5]]))
    w = torch.tensor([[1., 0.], [0., -1.]])  # class 1: u = (0, -1)
    cam = dense_attention(feats, 'cam', cam_weight=w,
                          labels=torch.tensor([1]))
    # z^T u = (0, -2): all zero after ReLU -> uniform, no NaN
    torch.testing.assert_close(cam, torch.tensor([[0.5, 0.5]]))
    with pytest.raises(ValueError, match='cam'):
        dense_attention(feats, 'cam')
    with pytest.raises(ValueError, match='attention must be'):
        dense_attention(feats, 'saliency')
    with pytest.raises(ValueError, match='attention_act'):
        dense_attention(feats, act='sigmoid')


def brute_force_dense(z, w, bias, y, attn, lam):
    """Eqs. 5.10-5.14 position by position, mixing embeddings."""
    b, d, r = z.shape
    losses = []
    for j in range(r):
        m = attn[:, j, None] * lam[j]  # (b, n)
        s = m.sum(0)
        mh = m / s
        zt = mh.t() @ z[:, :, j]  # (n, d): the mixed embeddings
        p = zt @ w.t() + bias
        yt = mh.t() @ y
        ce = soft_ce(p, yt)
        losses.append((s * ce).sum() / s.sum())
    return torch.stack(losses).mean()


def test_dense_loss_matches_the_equations():
    torch.manual_seed(2)
    b, d, r, c, n = 5, 6, 4, 3, 30
    z = torch.randn(b, d, r, dtype=torch.float64)
    w = torch.randn(c, d, dtype=torch.float64)
    bias = torch.randn(c, dtype=torch.float64)
    y = F.one_hot(torch.arange(b) % c, c).double()
    attn = dense_attention(z)
    lam = dirichlet_weights(b, n, groups=(r, ), dtype=torch.float64)
    logits = torch.einsum('bdr,cd->bcr', z, w) + bias[:, None]
    ours = dense_multimix_loss(logits, y, attn, lam)
    torch.testing.assert_close(ours, brute_force_dense(z, w, bias, y, attn,
                                                       lam))
    # dense logits averaged over positions are the GAP logits
    torch.testing.assert_close(logits.mean(-1), z.mean(-1) @ w.t() + bias)


def test_dense_loss_only_is_multimix_at_every_position():
    torch.manual_seed(3)
    logits = torch.randn(4, 3, 5, dtype=torch.float64)
    y = F.one_hot(torch.arange(4) % 3, 3).double()
    lam = dirichlet_weights(4, 20, dtype=torch.float64)
    ours = dense_multimix_loss(logits, y, None, lam, dense_loss_only=True)
    ref = torch.stack([
        soft_ce(*multimix(logits[:, :, j], y, lam)).mean() for j in range(5)
    ]).mean()
    torch.testing.assert_close(ours, ref)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'm must be in \[1, b=4\]'):
        dirichlet_weights(4, 10, m=5)
    with pytest.raises(ValueError, match='n must be >= 1'):
        dirichlet_weights(4, 0)
    with pytest.raises(ValueError, match='alpha must be > 0'):
        dirichlet_weights(4, 10, alpha=0.0)
    with pytest.raises(ValueError, match='alpha_range'):
        dirichlet_weights(4, 10, alpha_range=(0, 2))
    with pytest.raises(ValueError, match='lam must be'):
        multimix(torch.randn(4, 3), torch.eye(4), torch.rand(5, 2))
