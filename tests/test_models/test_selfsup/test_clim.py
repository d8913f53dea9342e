import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models.selfsup import BYOL, MoCo, SimSiam

import mmmix.models.selfsup.clim as clim_module
from mmmix.models.selfsup import CLIMBYOL, CLIMMoCo, CLIMSimSiam
from mmmix.ops.cutmix import cutmix_boxes, pairwise_cutmix

W = 8  # backbone width: the last stage has 8 * W channels

BACKBONE = dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                stem_channels=W, base_channels=W, norm_cfg=dict(type='BN'))
MOCO_NECK = dict(type='MoCoV2Neck', in_channels=8 * W, hid_channels=32,
                 out_channels=16, with_avg_pool=True)
LATENT_NECK = dict(type='NonLinearNeck', in_channels=8 * W,
                   hid_channels=32, out_channels=16, with_avg_pool=True)
PREDICTOR = dict(type='NonLinearNeck', in_channels=16, hid_channels=32,
                 out_channels=16, with_avg_pool=False)


def _moco(cls=CLIMMoCo, **kw):
    head = dict(type='mmmix.MixedContrastiveHead' if cls is CLIMMoCo else
                'ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                temperature=0.2)
    torch.manual_seed(0)
    return cls(backbone=BACKBONE, neck=MOCO_NECK, head=head, queue_len=16,
               feat_dim=16, momentum=0.01, **kw)


def _latent(cls, base, **kw):
    head = dict(type='mmmix.MixedLatentPredictHead' if cls is not base else
                'LatentPredictHead', predictor=PREDICTOR,
                loss=dict(type='CosineSimilarityLoss', shift_factor=2.,
                          scale_factor=2.) if base is BYOL else
                dict(type='CosineSimilarityLoss'))
    torch.manual_seed(0)
    return cls(backbone=BACKBONE, neck=LATENT_NECK, head=head, **kw)


def _images(n_images, b=4, sizes=(32, )):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 3, s, s, generator=g) for _ in range(n_images)
            for s in sizes]


def _copy_weights(src, dst):
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    assert not unexpected and not [k for k in missing if 'head' not in k]


@pytest.mark.parametrize('base,cls', [(MoCo, CLIMMoCo), (BYOL, CLIMBYOL),
                                      (SimSiam, CLIMSimSiam)])
def test_reduces_to_base_method(base, cls):
    """One resolution, positive = anchor, lam = 1, no instance term."""
    kw = dict(num_resolutions=1, mix_prob=0., use_inst_loss=False)
    if base is MoCo:
        ref, ours = _moco(MoCo), _moco(CLIMMoCo, **kw)
    else:
        ref, ours = _latent(base, base), _latent(cls, base, **kw)
    _copy_weights(ref, ours)
    ref.train(), ours.train()
    v1, v2 = _images(2)
    torch.manual_seed(2)
    ref_loss = ref.loss([v1, v2], None)['loss']
    torch.manual_seed(2)
    out = ours.loss([v1, v2, v1.clone(), v2.clone()], None)
    assert set(out) == {'loss_mix'}
    torch.testing.assert_close(out['loss_mix'], ref_loss, atol=1e-5,
                               rtol=1e-5)
    if base is MoCo:
        torch.testing.assert_close(ours.queue, ref.queue, atol=1e-5,
                                   rtol=1e-5)
        assert int(ours.queue_ptr) == int(ref.queue_ptr) == 4


def _fixed_params(monkeypatch, lam, centers):
    def fake(b, alpha, per_batch=False, prob=1., generator=None,
             device=None):
        return lam.clone(), centers.clone()
    monkeypatch.setattr(clim_module, 'sample_cutmix_params', fake)


def test_moco_multi_resolution_matches_reference(monkeypatch):
    """Eq. 4 and Eq. 6 (mean over all (r, r')) against explicit loops."""
    b, sizes = 4, (32, 24)
    lam = torch.tensor([0.3, 0.6, 0.8, 1.0])
    centers = torch.tensor([[.5, .5], [.2, .7], [.9, .1], [.4, .4]])
    _fixed_params(monkeypatch, lam, centers)
    model = _moco(num_resolutions=2)
    model.train()
    imgs = _images(4, b, sizes)  # A@32, A@24, K@32, K@24, P..., PK...
    A, K, P, PK = imgs[0:2], imgs[2:4], imgs[4:6], imgs[6:8]
    ref_model = copy.deepcopy(model)
    queue = model.queue.clone()
    out = model.loss(imgs, None)

    # reference: the same embeddings (same batches), losses by loops
    ref_model.encoder_k.update_parameters(
        torch.nn.Sequential(ref_model.backbone, ref_model.neck))
    q_a, q_m, lam_hat, k_a, k_p = {}, {}, {}, {}, {}
    for r, s in enumerate(sizes):
        boxes = cutmix_boxes(lam, centers, s, s)
        X, lam_hat[r] = pairwise_cutmix(A[r], P[r], boxes)
        q = F.normalize(ref_model.neck(ref_model.backbone(
            torch.cat([A[r], X])))[0], dim=1)
        q_a[r], q_m[r] = q[:b], q[b:]
        with torch.no_grad():
            k = F.normalize(ref_model.encoder_k(
                torch.cat([K[r], PK[r]]))[0], dim=1)
        k_a[r], k_p[r] = k[:b], k[b:]

    def nce(q, k):
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue],
                           dim=1) / 0.2
        return F.cross_entropy(logits, torch.zeros(b, dtype=torch.long),
                               reduction='none')

    inst = mix = 0.
    for r in range(2):
        for r2 in range(2):
            inst = inst + nce(q_a[r], k_a[r2]).mean()
            mix = mix + (lam_hat[r] * nce(q_m[r], k_a[r2]) +
                         (1 - lam_hat[r]) * nce(q_m[r], k_p[r2])).mean()
    torch.testing.assert_close(out['loss_inst'], inst / 4, atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(out['loss_mix'], mix / 4, atol=1e-5,
                               rtol=1e-5)
    # anchor keys at the first resolution are enqueued
    torch.testing.assert_close(model.queue[:, :b], k_a[0].T, atol=1e-5,
                               rtol=1e-5)
    assert int(model.queue_ptr) == b


def test_pair_options(monkeypatch):
    lam = torch.full((4, ), 0.5)
    _fixed_params(monkeypatch, lam, torch.full((4, 2), 0.5))
    imgs = _images(4, 4, (32, 24))
    same = _moco(num_resolutions=2, resolution_pairs='same')
    summed = _moco(num_resolutions=2, resolution_pairs='same',
                   pair_reduction='sum')
    a = same.loss(imgs, None)
    s = summed.loss(imgs, None)
    for k in a:
        torch.testing.assert_close(s[k], 2 * a[k], atol=1e-5, rtol=1e-5)
    nomix = _moco(num_resolutions=1, mix=False)
    out = nomix.loss(_images(4), None)
    assert set(out) == {'loss_inst', 'loss_pos'}
    only_pos = _moco(num_resolutions=1, mix=False, use_inst_loss=False)
    _copy_weights(nomix, only_pos)
    out_pos = only_pos.loss(_images(4), None)
    assert set(out_pos) == {'loss_pos'}
    for m in (_moco(num_resolutions=1, enqueue='anchor_and_pos'), ):
        m.loss(_images(4), None)
        assert int(m.queue_ptr) == 8


@pytest.mark.parametrize('cls', [CLIMMoCo, CLIMBYOL, CLIMSimSiam])
def test_multires_step_trains(cls):
    base = {CLIMBYOL: BYOL, CLIMSimSiam: SimSiam}.get(cls)
    model = _moco(num_resolutions=2) if cls is CLIMMoCo else _latent(
        cls, base, num_resolutions=2)
    model.train()
    out = model.loss(_images(4, 4, (32, 24)), None)
    total = sum(out.values())
    assert torch.isfinite(total)
    total.backward()
    for part in (model.backbone, model.neck):
        grads = [p.grad for p in part.parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads)
    key_net = getattr(model, 'encoder_k', None) or getattr(
        model, 'target_net', None)
    if key_net is not None:
        assert all(p.grad is None for p in key_net.parameters())


def test_selection_features_are_unit_rows():
    model = _moco(num_resolutions=1)
    model.eval()
    x = torch.randn(3, 3, 32, 32)
    for source in ('key', 'query'):
        f = model.selection_features(x, source)
        torch.testing.assert_close(f.norm(dim=1), torch.ones(3))
    torch.testing.assert_close(
        model.selection_features(x, 'key'),
        F.normalize(model.encoder_k(x)[0], dim=1))
    with pytest.raises(ValueError, match='source'):
        model.selection_features(x, 'other')


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match='num_resolutions'):
        _moco(num_resolutions=0)
    with pytest.raises(ValueError, match='alpha'):
        _moco(alpha=0.)
    with pytest.raises(ValueError, match='mix_prob'):
        _moco(mix_prob=1.5)
    with pytest.raises(ValueError, match='pair_reduction'):
        _moco(pair_reduction='max')
    with pytest.raises(ValueError, match='resolution_pairs'):
        _moco(resolution_pairs='cross')
    with pytest.raises(ValueError, match='enqueue'):
        _moco(enqueue='all')
    with pytest.raises(ValueError, match='MixedContrastiveHead'):
        CLIMMoCo(backbone=BACKBONE, neck=MOCO_NECK, queue_len=16,
                 feat_dim=16, head=dict(type='ContrastiveHead',
                                        loss=dict(type='CrossEntropyLoss')))
    with pytest.raises(ValueError, match='MixedLatentPredictHead'):
        CLIMBYOL(backbone=BACKBONE, neck=LATENT_NECK,
                 head=dict(type='LatentPredictHead', predictor=PREDICTOR,
                           loss=dict(type='CosineSimilarityLoss')))
    model = _moco(num_resolutions=2)
    with pytest.raises(ValueError, match='expects 8 images'):
        model.loss(_images(2, 4, (32, 24)), None)


def test_without_positive_is_the_base_method():
    """mix_weight=0: unpaired views; one resolution gives MoCo exactly and
    two give MoCo's loss averaged over the four resolution pairs."""
    ref, ours = _moco(MoCo), _moco(CLIMMoCo, mix_weight=0.)
    _copy_weights(ref, ours)
    v1, v2 = _images(2)
    ref_loss = ref.loss([v1, v2], None)['loss']
    out = ours.loss([v1, v2], None)
    assert set(out) == {'loss_inst'}
    torch.testing.assert_close(out['loss_inst'], ref_loss, atol=1e-5,
                               rtol=1e-5)
    multi = _moco(CLIMMoCo, mix_weight=0., num_resolutions=2)
    out = multi.loss(_images(2, 4, (32, 24)), None)
    assert set(out) == {'loss_inst'} and torch.isfinite(out['loss_inst'])
    with pytest.raises(ValueError, match='leave no loss'):
        _moco(CLIMMoCo, mix_weight=0., use_inst_loss=False)
