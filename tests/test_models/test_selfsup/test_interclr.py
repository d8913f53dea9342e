import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import BYOL, MoCo
from mmpretrain.structures import DataSample

import mmmix.models.selfsup.interclr as interclr_module
from mmmix.models.selfsup import NPID, InterCLRBYOL, InterCLRMoCo, InterCLRNPID

W = 4
N = 64  # memory rows
BACKBONE = dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                stem_channels=W, base_channels=W, norm_cfg=dict(type='BN'))
MOCO_NECK = dict(type='MoCoV2Neck', in_channels=8 * W, hid_channels=16,
                 out_channels=8, with_avg_pool=True)
LATENT_NECK = dict(type='NonLinearNeck', in_channels=8 * W,
                   hid_channels=16, out_channels=8, with_avg_pool=True)
PREDICTOR = dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                 out_channels=8, with_avg_pool=False)
HEAD = dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
            temperature=0.2)
BYOL_HEAD = dict(type='LatentPredictHead', predictor=PREDICTOR,
                 loss=dict(type='CosineSimilarityLoss', shift_factor=2.,
                           scale_factor=2.))
INTER_HEAD = dict(type='mmmix.MarginNCEHead', temperature=0.2, margin=-0.5)


def _memory(**kw):
    return dict(type='mmmix.PseudoLabelMemory', length=N, feat_dim=8,
                num_clusters=4, min_cluster=2, **kw)


def _build(cls, **kw):
    torch.manual_seed(0)
    if cls is MoCo:
        return MoCo(backbone=BACKBONE, neck=MOCO_NECK, head=HEAD,
                    queue_len=16, feat_dim=8, momentum=0.01)
    if cls is InterCLRMoCo:
        kw.setdefault('inter_head', INTER_HEAD)
        kw.setdefault('num_negatives', 8)
        kw.setdefault('pool_size', 16)
        return InterCLRMoCo(backbone=BACKBONE, neck=MOCO_NECK, head=HEAD,
                            memory=kw.pop('memory', _memory()), queue_len=16,
                            feat_dim=8, momentum=0.01, **kw)
    if cls is BYOL:
        return BYOL(backbone=BACKBONE, neck=LATENT_NECK, head=BYOL_HEAD)
    if cls is InterCLRBYOL:
        return InterCLRBYOL(backbone=BACKBONE, neck=LATENT_NECK,
                            head=BYOL_HEAD, memory=_memory(), **kw)
    head = dict(HEAD, temperature=0.1)
    if cls is NPID:
        return NPID(backbone=BACKBONE, neck=LATENT_NECK, head=head,
                    memory=dict(type='mmmix.PseudoLabelMemory', length=N,
                                feat_dim=8, momentum=0.5),
                    num_negatives=8)
    kw.setdefault('inter_head', dict(INTER_HEAD, temperature=0.1))
    kw.setdefault('pool_size', 16)
    return InterCLRNPID(backbone=BACKBONE, neck=LATENT_NECK, head=head,
                        memory=_memory(momentum=0.5), num_negatives=8, **kw)


def _samples(idx):
    return [DataSample(metainfo=dict(sample_idx=int(i))) for i in idx]


def _images(n=2, b=4):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 3, 16, 16, generator=g) for _ in range(n)]


def _cluster(model, seed=0):
    """Labels 0..3 by row, features random (what the hook would do)."""
    g = torch.Generator().manual_seed(seed)
    model.memory.init_memory(torch.randn(N, 8, generator=g),
                             torch.arange(N) % 4)


def _copy(src, dst):
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected and not [k for k in missing if 'inter_head' not in k]


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


@pytest.mark.parametrize('base,cls', [(MoCo, InterCLRMoCo),
                                      (BYOL, InterCLRBYOL),
                                      (NPID, InterCLRNPID)])
def test_lambda_one_is_the_base_method(base, cls):
    ref, ours = _build(base), _build(cls, intra_weight=1.)
    _copy(ref, ours)
    if base is NPID:
        ours.memory.feats.copy_(ref.memory.feats)
    _cluster(ours)
    if base is NPID:  # the clustering wrote the bank: start both equal
        ref.memory.feats.copy_(ours.memory.feats)
    views = _images(1 if base is NPID else 2)
    idx = torch.tensor([5, 9, 13, 40])
    torch.manual_seed(2)
    ref_loss = ref.loss(views, _samples(idx))['loss']
    torch.manual_seed(2)
    out = ours.loss(views, _samples(idx))
    assert set(out) == {'intra_loss'}
    assert torch.equal(_total(out), ref_loss)
    if base is MoCo:
        assert torch.equal(ours.queue, ref.queue)
    if base is NPID:
        ref.commit_memory()
        assert 0 <= float(ours.commit_memory()) <= 1
        assert torch.equal(ours.memory.feats, ref.memory.feats)


def test_npid_against_a_hand_written_reference():
    model = _build(NPID)
    (x, ) = _images(1)
    idx = torch.tensor([1, 2, 3, 60])
    bank = model.memory.feats.clone()
    torch.manual_seed(3)
    loss = model.loss([x], _samples(idx))['loss']
    torch.manual_seed(3)
    neg = torch.randint(N, (4, 8))
    q = F.normalize(model.neck(model.backbone(x))[0], dim=1).double()
    b = bank.double()
    logits = torch.cat([(q * b[idx]).sum(1, keepdim=True),
                        torch.einsum('bd,bkd->bk', q, b[neg])], 1) / 0.1
    ref = F.cross_entropy(logits, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(loss.double(), ref, atol=1e-5, rtol=1e-5)
    # the update is staged until the step is over, then omega = 0.5 on the
    # batch rows only
    assert torch.equal(model.memory.feats, bank)
    model.commit_memory()
    expect = F.normalize(b[idx] + q, dim=1).float()
    torch.testing.assert_close(model.memory.feats[idx], expect, atol=2e-3,
                               rtol=0)
    rest = torch.ones(N, dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(model.memory.feats[rest], bank[rest])


def test_inter_margin_nce_against_a_float64_reference(monkeypatch):
    model = _build(InterCLRMoCo, intra_weight=0.)
    _cluster(model)
    pos = torch.tensor([4, 1, 6, 3])
    neg = torch.arange(32).view(4, 8) + 20
    monkeypatch.setattr(interclr_module, 'draw_cluster_positives',
                        lambda *a, **k: pos)
    monkeypatch.setattr(interclr_module, 'sample_negatives',
                        lambda *a, **k: neg)
    q = F.normalize(torch.randn(4, 8, requires_grad=True), dim=1)
    idx = torch.tensor([0, 1, 2, 3])
    loss = model.inter_nce_loss(q, idx)
    b, qd = model.memory.feats.double(), q.detach().double()
    lp = (qd * b[pos]).sum(1, keepdim=True) + 0.5  # margin -0.5
    ln = torch.einsum('bd,bkd->bk', qd, b[neg])
    ref = F.cross_entropy(torch.cat([lp, ln], 1) / 0.2,
                          torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(loss.double(), ref, atol=1e-6, rtol=1e-6)
    loss.backward()  # the bank is not a leaf of the graph
    assert not model.memory.feats.requires_grad


@pytest.mark.parametrize('strategy', ['semihard', 'random', 'hard',
                                      'semieasy'])
def test_moco_step_gradients_and_memory(strategy):
    model = _build(InterCLRMoCo, neg_strategy=strategy)
    _cluster(model)
    model.train()
    before = model.memory.feats.clone()
    labels = model.memory.labels.clone()
    idx = torch.tensor([5, 9, 13, 40])
    out = model.loss(_images(), _samples(idx))
    assert set(out) == {'intra_loss', 'inter_loss'}
    _total(out).backward()  # the bank is unchanged until the commit
    assert 0 <= float(model.commit_memory()) <= 1
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in model.encoder_k.parameters())
    assert all(p.grad is not None for p in model.inter_head.parameters()) \
        or not list(model.inter_head.parameters())
    rest = torch.ones(N, dtype=torch.bool)
    rest[idx] = False
    assert torch.equal(model.memory.feats[rest], before[rest])
    assert torch.equal(model.memory.labels[rest], labels[rest])
    # omega = 1: the batch rows are the normalised keys
    torch.testing.assert_close(model.memory.feats[idx].norm(dim=1),
                               torch.ones(4))
    assert not torch.equal(model.memory.feats[idx], before[idx])


def test_lambda_zero_gradient_is_the_inter_branch_only():
    model = _build(InterCLRMoCo, intra_weight=0.)
    _cluster(model)
    idx = torch.tensor([5, 9, 13, 40])
    torch.manual_seed(4)
    out = model.loss(_images(), _samples(idx))
    assert float(out['intra_loss'].detach()) == 0
    w = model.backbone.conv1.weight
    g_intra, = torch.autograd.grad(out['intra_loss'], w, retain_graph=True)
    assert torch.count_nonzero(g_intra) == 0
    g_inter, = torch.autograd.grad(out['inter_loss'], w)
    assert torch.count_nonzero(g_inter) > 0


def test_byol_inter_term_and_bank_feature():
    model = _build(InterCLRBYOL, intra_weight=0.5)
    _cluster(model)
    idx = torch.tensor([5, 9, 13, 40])
    v1, v2 = _images()
    torch.manual_seed(5)
    out = model.loss([v1, v2], _samples(idx))
    assert set(out) == {'intra_loss', 'inter_loss'}
    assert 0 <= float(out['inter_loss']) <= 0.5 * 2 * 2 * 4
    model.commit_memory()
    t1 = model.target_net(v1)[0]
    t2 = model.target_net(v2)[0]
    expect = F.normalize(F.normalize(t1, dim=1) + F.normalize(t2, dim=1),
                         dim=1)
    torch.testing.assert_close(model.memory.feats[idx], expect, atol=1e-5,
                               rtol=1e-5)


def test_npid_interclr_step():
    model = _build(InterCLRNPID)
    _cluster(model)
    idx = torch.tensor([5, 9, 13, 40])
    out = model.loss(_images(1), _samples(idx))
    assert set(out) == {'intra_loss', 'inter_loss'}
    _total(out).backward()
    assert model.backbone.conv1.weight.grad.abs().sum() > 0


def test_errors_name_the_field():
    with pytest.raises(ValueError, match='intra_weight'):
        _build(InterCLRMoCo, intra_weight=1.5)
    with pytest.raises(ValueError, match='neg_strategy'):
        _build(InterCLRMoCo, neg_strategy='easy')
    with pytest.raises(ValueError, match='label_update'):
        _build(InterCLRMoCo, label_update='never')
    with pytest.raises(ValueError, match='pool'):
        _build(InterCLRMoCo, pool_size=4)  # < num_negatives=8
    with pytest.raises(ValueError, match='num_negatives'):
        _build(InterCLRMoCo, num_negatives=N + 1)
    with pytest.raises(ValueError, match='num_clusters'):
        _build(InterCLRMoCo, memory=dict(type='mmmix.PseudoLabelMemory',
                                         length=N, feat_dim=8))
    with pytest.raises(ValueError, match='num_clusters must be >= 2'):
        _build(InterCLRMoCo, memory=dict(type='mmmix.PseudoLabelMemory',
                                         length=N, feat_dim=8,
                                         num_clusters=1))
    model = _build(InterCLRMoCo)
    with pytest.raises(RuntimeError, match='InterCLRHook'):
        model.loss(_images(), _samples([0, 1, 2, 3]))
    _cluster(model)
    with pytest.raises(KeyError, match='sample_idx'):
        model.loss(_images(), [DataSample() for _ in range(4)])


def test_clustering_features():
    model = _build(InterCLRMoCo)
    x = _images(1)[0]
    for source in ('online', 'target'):
        f = model.interclr_features(x, source)
        torch.testing.assert_close(f.norm(dim=1), torch.ones(4))
    with pytest.raises(ValueError, match='source'):
        model.interclr_features(x, 'key')


def test_sample_idx_out_of_the_memory_is_refused_on_the_host():
    model = _build(InterCLRMoCo)
    _cluster(model)
    with pytest.raises(IndexError, match=r'\[0, 64\): \[0, 64\]'):
        model.loss(_images(), _samples([0, 1, 2, 64]))
