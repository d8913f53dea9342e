import pytest
import torch
import torch.nn.functional as F

from mmmix.models.batch_augments import DenseMultiMix, MultiMix


def test_multimix_mixes_inputs_and_scores_with_the_same_weights():
    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 4)
    scores = F.one_hot(torch.arange(6) % 3, 3).float()
    aug = MultiMix(n=15, m=2)
    mixed, mixed_scores = aug(x, scores)
    lam = aug.last_lam
    assert mixed.shape == (15, 3, 4, 4) and mixed_scores.shape == (15, 3)
    # each column mixes exactly m = 2 examples and sums to one
    assert ((lam > 0).sum(0) == 2).all()
    torch.testing.assert_close(lam.sum(0), torch.ones(15))
    torch.testing.assert_close(mixed, torch.einsum('bk,bchw->kchw', lam, x))
    torch.testing.assert_close(mixed_scores, lam.t() @ scores)
    torch.testing.assert_close(mixed_scores.sum(1), torch.ones(15))


def test_fixed_alpha_is_used():
    torch.manual_seed(0)
    aug = MultiMix(n=20000, alpha=1.0)
    lam = aug.weights(2)
    # Dir(1, 1) over two examples: the first weight is U[0, 1]
    assert abs(lam[0].mean().item() - 0.5) < 0.01
    assert abs(lam[0].var().item() - 1 / 12) < 0.005


@pytest.mark.parametrize('kwargs, match', [
    (dict(n=0), 'n must be an integer >= 1'),
    (dict(n=2.5), 'n must be an integer >= 1'),
    (dict(m=0), 'm must be None or an integer >= 1'),
    (dict(alpha=0.0), 'alpha must be > 0'),
    (dict(alpha_range=(-1, 2)), 'alpha_range'),
    (dict(alpha_range=(2, 1)), 'alpha_range'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    for cls in (MultiMix, DenseMultiMix):
        with pytest.raises(ValueError, match=match):
            cls(**kwargs)


def test_m_larger_than_the_batch_is_refused_at_the_first_step():
    with pytest.raises(ValueError, match='m=5 exceeds the batch size 4'):
        MultiMix(n=3, m=5)(torch.randn(4, 2), torch.eye(4))


def test_dense_multimix_is_a_loss_not_a_batch_augment():
    with pytest.raises(ValueError, match='attention must be one of'):
        DenseMultiMix(attention='bogus')
    with pytest.raises(ValueError, match='attention_act must be one of'):
        DenseMultiMix(attention_act='bogus')
    with pytest.raises(ValueError, match='resolution must be None'):
        DenseMultiMix(resolution=0)
    with pytest.raises(TypeError, match="level='dense'"):
        DenseMultiMix()(torch.randn(2, 3), torch.eye(2))
    with pytest.raises(ValueError, match=r'\(b, d, h, w\)'):
        DenseMultiMix().loss(torch.randn(2, 3), torch.eye(2),
                             torch.nn.Linear(3, 2))
