import pytest
import torch
from mmpretrain.structures import DataSample

from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)


def cfg(mix_modes, backbone=None, loss=None, **kwargs):
    return dict(
        type='mmmix.MetricRetriever',
        backbone=backbone or dict(type='mmmix.PreActResNet', base_channels=4,
                                  in_channels=1),
        neck=dict(type='mmmix.AvgMaxPoolLinearL2Neck', in_channels=32,
                  out_channels=8),
        loss=loss or dict(loss=dict(type='MultiSimilarityLoss', alpha=18,
                                    beta=75, base=0.77)),
        mix_modes=mix_modes, **kwargs)


def data(n=12, classes=3):
    torch.manual_seed(0)
    x = torch.randn(n, 1, 16, 16)
    return x, [DataSample().set_gt_label(i % classes) for i in range(n)]


@pytest.mark.parametrize('mode', [
    dict(level='none'), dict(level='input', hard_k=2),
    dict(level='feature'), dict(level='feature', hard_k=3),
    dict(level='feature', stage='layer2'), dict(level='feature', stage=0),
    dict(level='embedding'), dict(level='embedding', hard_k=1)
], ids=str)
def test_every_level_trains(mode):
    model = MODELS.build(cfg([mode]))
    x, samples = data()
    losses = model.loss(x, samples)
    assert torch.isfinite(losses['loss_clean'])
    total = sum(v for k, v in losses.items() if 'loss' in k)
    total.backward()
    assert model.backbone.stem[0].weight.grad.abs().sum() > 0
    if mode['level'] != 'none':
        assert 'loss_mix' in losses and losses['mix_mixed'] > 0


def test_feature_level_equals_the_neck_on_explicit_mixes():
    # the fused GAP+GMP path and the generic chunked path agree
    x, samples = data()
    fused = MODELS.build(cfg([dict(level='feature')]))
    fused.eval()
    plain = MODELS.build(cfg([dict(level='feature')], chunk_size=5))
    plain.load_state_dict(fused.state_dict())
    plain.eval()
    torch.manual_seed(5)
    a = fused.loss(x, samples)['loss_mix']
    # chunked generic path, called directly
    feats = plain.backbone(x)[-1]
    emb = plain.neck((feats, ))[0]
    labels = torch.cat([s.gt_label for s in samples])
    from mmmix.ops.metrix import mix
    torch.manual_seed(5)
    b = plain.loss_module(emb, labels, lambda i, j, lam: plain.neck(
        (mix(feats, i, j, lam), ))[0])['loss_mix']
    torch.testing.assert_close(a, b)


def test_predict_and_tensor_modes_give_unit_embeddings():
    model = MODELS.build(cfg([dict(level='feature')]))
    model.eval()
    x, samples = data()
    emb = model(x, mode='tensor')
    assert emb.shape == (12, 8)
    torch.testing.assert_close(emb.norm(dim=1), torch.ones(12))
    out = model(x, samples, mode='predict')
    torch.testing.assert_close(torch.stack([s.embedding for s in out]), emb)


def test_frozen_bn_backbone_keeps_its_statistics():
    model = MODELS.build(cfg(
        [dict(level='input', hard_k=1)],
        backbone=dict(type='ResNet', depth=18, out_indices=(3, ),
                      norm_eval=True,
                      norm_cfg=dict(type='BN', requires_grad=False))))
    model.neck = MODELS.build(dict(type='mmmix.AvgMaxPoolLinearL2Neck',
                                   in_channels=512, out_channels=8))
    model.train()
    x = torch.randn(6, 3, 32, 32)
    samples = [DataSample().set_gt_label(i % 3) for i in range(6)]
    before = model.backbone.bn1.running_mean.clone()
    e1 = model(x, mode='tensor')
    model.loss(x, samples)
    e2 = model(x, mode='tensor')
    torch.testing.assert_close(model.backbone.bn1.running_mean, before)
    torch.testing.assert_close(e1, e2)


@pytest.mark.parametrize('modes, match', [
    ([dict(level='input')], 'set hard_k'),
    ([dict(level='pixels')], 'level in'),
    ([dict(level='feature', hard_k=0)], 'hard_k must be None or an integer'),
    ([dict(level='none', hard_k=3)], 'takes no hard_k'),
    ([dict(level='feature', k=3)], 'unknown keys'),
    ([dict(level='embedding', stage=1)], "only valid with level='feature'"),
    ([dict(level='feature', stage=7)], 'stage=7 is out of range'),
    ([dict(level='feature', stage='layer9')], "'layer9' is not a module"),
    ([], 'at least one mode'),
])
def test_bad_modes(modes, match):
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg(modes))
    with pytest.raises(ValueError, match='mix_probs'):
        MODELS.build(cfg([dict(level='none')], mix_probs=[0.5]))


def test_necks_without_forward_mixed_get_chunks():
    c = cfg([dict(level='feature')], chunk_size=5)
    c['neck'] = dict(type='GlobalAveragePooling')
    model = MODELS.build(c)
    model.eval()
    x, samples = data()
    calls = []
    model.neck.register_forward_hook(
        lambda m, args, out: calls.append(len(args[0][-1])))
    torch.manual_seed(5)
    a = model.loss(x, samples)['loss_mix']
    k = int(model.loss_module.last_info['mixed'])
    assert calls[0] == 12 and calls[1:] == [5] * (k // 5) + (
        [k % 5] if k % 5 else [])
    feats = model.backbone(x)[-1]
    emb = model.neck((feats, ))[0]
    labels = torch.cat([s.gt_label for s in samples])
    from mmmix.ops.metrix import mix
    torch.manual_seed(5)
    b = model.loss_module(emb, labels, lambda i, j, lam: model.neck(
        (mix(feats, i, j, lam), ))[0])['loss_mix']
    torch.testing.assert_close(a, b)


def test_named_stage_mixes_go_through_the_rest_of_the_network():
    model = MODELS.build(cfg([dict(level='feature', stage='layer2')],
                             chunk_size=4))
    model.eval()
    x, _ = data()
    i = torch.tensor([0, 3, 5, 7, 2, 11, 1])
    j = torch.tensor([1, 4, 9, 8, 6, 10, 0])
    clean = model(x, mode='tensor')
    # lam = 1 keeps the first constituent: the clean embeddings of i
    torch.testing.assert_close(
        model._chunked(lambda a, b, c: model._embed_stage_mixes(
            x, 'layer2', a, b, c), i, j, 1.0), clean[i])
    # against a direct hooked forward of the full batch
    lam = torch.rand(len(i))

    def hook(mod, args, out):
        return lam.view(-1, 1, 1, 1) * out[i] + (1 - lam.view(
            -1, 1, 1, 1)) * out[j]

    handle = model.backbone.layer2.register_forward_hook(hook)
    hooked = model(x, mode='tensor')
    handle.remove()
    torch.testing.assert_close(
        model._chunked(lambda a, b, c: model._embed_stage_mixes(
            x, 'layer2', a, b, c), i, j, lam), hooked)
