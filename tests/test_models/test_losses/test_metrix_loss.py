import warnings

import pytest
import torch
import torch.nn.functional as F
from pytorch_metric_learning import losses, miners

from mmmix.models.losses import MetrixLoss
from mmmix.ops.metrix import mix, mixing_pairs, soft_label_loss, soft_labels

MS = dict(type='MultiSimilarityLoss', alpha=18, beta=75, base=0.77)


def batch(b=12, c=3, d=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = F.normalize(torch.randn(b, d, generator=g, dtype=torch.float64),
                      dim=1).requires_grad_()
    return emb, torch.arange(b) % c


def test_clean_term_is_the_pml_loss_with_its_miner():
    emb, labels = batch()
    wrapper = MetrixLoss(MS, miner=dict(type='MultiSimilarityMiner',
                                        epsilon=0.39), mixing_weight=0)
    ref = losses.MultiSimilarityLoss(alpha=18, beta=75, base=0.77)(
        emb, labels, miners.MultiSimilarityMiner(epsilon=0.39)(emb, labels))
    out = wrapper(emb, labels)
    assert set(out) == {'loss_clean'}
    torch.testing.assert_close(out['loss_clean'], ref)


@pytest.mark.parametrize('loss', [
    MS, dict(type='ContrastiveLoss', neg_margin=0.5),
    dict(type='NCALoss', softmax_scale=5),
    dict(type='GeneralizedLiftedStructureLoss', neg_margin=0.4)])
@pytest.mark.parametrize('mode', ['pos_neg', 'anc_neg'])
@pytest.mark.parametrize('lam_mode', ['batch', 'pair'])
def test_gram_path_equals_explicit_embedding_mixes(loss, mode, lam_mode):
    # the sparse Gram-matrix path equals scoring explicit mixes densely;
    # gradients agree through the neck's l2 normalisation (the Gram path
    # mixes unit vectors, so it has no radial component)
    raw, labels = batch(seed=1)
    raw = (raw.detach() * 1.7).requires_grad_()
    emb = F.normalize(raw, dim=1)
    wrapper = MetrixLoss(loss, pair_modes=(mode, ), lam_mode=lam_mode)
    torch.manual_seed(0)
    out = wrapper(emb, labels)['loss_mix']
    torch.manual_seed(0)
    explicit = wrapper(emb, labels, mix_fn=lambda i, j, lam: mix(
        emb, i, j, lam))['loss_mix']
    torch.testing.assert_close(out, explicit)
    g1, = torch.autograd.grad(out, raw, retain_graph=True)
    g2, = torch.autograd.grad(explicit, raw)
    torch.testing.assert_close(g1, g2)


@pytest.mark.parametrize('mode', ['pos_neg', 'anc_neg'])
def test_embedding_mixing_equals_the_engine_by_hand(mode):
    emb, labels = batch(seed=1)
    wrapper = MetrixLoss(MS, pair_modes=(mode, ), mixing_weight=0.4)
    torch.manual_seed(0)
    out = wrapper(emb, labels)
    # and the engine by hand: w * soft-label loss of the mixed set
    torch.manual_seed(0)
    torch.randint(1, ())   # the pair-mode draw
    i, j, mask = mixing_pairs(labels, mode)
    from mmmix.ops.metrix import sample_lam
    lam = sample_lam(2.0, len(i))
    y = soft_labels(labels, labels, i, j, lam).double()
    expected = 0.4 * soft_label_loss(wrapper.loss, emb, mix(emb, i, j, lam),
                                     y, mask)
    torch.testing.assert_close(out['loss_mix'], expected)


@pytest.mark.parametrize('cfg', [
    dict(type='ContrastiveLoss', neg_margin=0.5),
    dict(type='GeneralizedLiftedStructureLoss', neg_margin=0.5),
    dict(type='NCALoss', softmax_scale=4),
    dict(type='ProxyAnchorLoss', num_classes=3, embedding_size=8),
    dict(type='ProxyNCALoss', num_classes=3, embedding_size=8,
         softmax_scale=9),
])
@pytest.mark.parametrize('lam_mode', ['batch', 'pair'])
def test_every_supported_loss_trains_with_gradients(cfg, lam_mode):
    emb, labels = batch(seed=2)
    wrapper = MetrixLoss(cfg, lam_mode=lam_mode).double()
    out = wrapper(emb, labels)
    total = out['loss_clean'] + out['loss_mix']
    assert torch.isfinite(total) and out['loss_mix'] != 0
    total.backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() > 0
    if 'Proxy' in cfg['type']:
        assert wrapper.loss.proxies.grad is not None


def test_proxy_anchor_sees_mixes_only_through_their_two_classes():
    emb, labels = batch(seed=3)
    cfg = dict(type='ProxyAnchorLoss', num_classes=5, embedding_size=8)
    torch.manual_seed(0)
    two = MetrixLoss(cfg).double()
    torch.manual_seed(0)
    allp = MetrixLoss(cfg, proxy_neg_neg=True).double()
    allp.load_state_dict(two.state_dict())
    torch.manual_seed(1)
    a = two(emb, labels)['loss_mix']
    torch.manual_seed(1)
    b = allp(emb, labels)['loss_mix']
    # classes 3 and 4 are absent from the batch: only neg-neg sees them
    assert not torch.allclose(a, b)


def test_no_pairs_gives_zero_and_one_warning():
    emb, _ = batch()
    labels = torch.zeros(12, dtype=torch.long)
    wrapper = MetrixLoss(MS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        for _ in range(3):
            out = wrapper(emb, labels)
            assert out['loss_mix'].item() == 0
            assert torch.isfinite(out['loss_clean'])
    assert sum('no' in str(w.message) and 'pairs' in str(w.message)
               for w in caught) == 1


@pytest.mark.parametrize('kwargs, match', [
    (dict(loss=dict(type='TripletMarginLoss')),
     'TripletMarginLoss is not supported'),
    (dict(loss=dict(type='NoSuchLoss')), r'loss.type=.NoSuchLoss'),
    (dict(loss=MS, mixing_weight=-0.1), 'mixing_weight must be >= 0'),
    (dict(loss=MS, alpha=0), 'alpha must be > 0'),
    (dict(loss=MS, lam_mode='image'), "lam_mode must be 'batch' or 'pair'"),
    (dict(loss=MS, pair_modes=('pos_anc', )), 'pair_modes must be'),
    (dict(loss=MS, miner=dict(type='NoMiner')), r'miner.type'),
])
def test_bad_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MetrixLoss(**kwargs)


def test_hard_k_larger_than_the_negatives():
    emb, labels = batch()
    with pytest.raises(ValueError, match='hard_k=9 exceeds the 8'):
        MetrixLoss(MS)(emb, labels, hard_k=9)
