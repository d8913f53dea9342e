import copy
from unittest import mock

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models import ImageClassifier, LinearClsHead
from mmpretrain.structures import DataSample

from mmmix.models.classifiers import MixupClassifier, backbone_stages
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)
NUM_CLASSES = 5


def cfg(mix_modes, **kwargs):
    head = kwargs.pop('head', None) or dict(
        type='LinearClsHead', num_classes=NUM_CLASSES, in_channels=32,
        loss=dict(type='CrossEntropyLoss', use_soft=True))
    return dict(
        type='mmmix.MixupClassifier',
        backbone=dict(type='mmmix.PreActResNet', base_channels=4,
                      in_channels=1),
        neck=dict(type='GlobalAveragePooling'), head=head,
        mix_modes=mix_modes, **kwargs)


MIXUP = dict(type='Mixup', alpha=1.0)
ALL_MODES = [
    dict(level='none'),
    dict(level='input', augment=MIXUP),
    dict(level='feature', augment=dict(type='mmmix.AlignMix')),
    dict(level='feature', stage=1, augment=MIXUP),
    dict(level='feature', stage='layer3', augment=MIXUP),
    dict(level='embedding', augment=MIXUP),
]


def data(n=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 16, 16, generator=g)
    samples = [DataSample().set_gt_label(i % NUM_CLASSES) for i in range(n)]
    return x, samples


def one_hot(samples):
    return F.one_hot(torch.cat([s.gt_label for s in samples]),
                     NUM_CLASSES).float()


def soft_ce(logits, target):
    return -(target * logits.log_softmax(1)).sum(1).mean()


@pytest.mark.parametrize('mode', ALL_MODES, ids=lambda m: str(m))
def test_every_mode_runs_with_a_finite_loss(mode):
    model = MODELS.build(cfg([mode]))
    x, samples = data()
    losses = model.loss(x, samples)
    assert torch.isfinite(losses['loss'])
    losses['loss'].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_mode_frequencies_follow_mix_probs():
    model = MODELS.build(cfg(ALL_MODES[:3], mix_probs=[0.2, 0.5, 0.3]))
    np.random.seed(0)
    counts = np.bincount([model.choose_mode() for _ in range(4000)],
                         minlength=3)
    # binomial std <= sqrt(4000 / 4) ~ 32
    np.testing.assert_allclose(counts, [800, 2000, 1200], atol=130)


def test_predict_is_the_parents_and_hooks_are_removed():
    model = MODELS.build(cfg(ALL_MODES))
    model.eval()
    plain = ImageClassifier(
        backbone=dict(type='mmmix.PreActResNet', base_channels=4,
                      in_channels=1),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='LinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=32))
    plain.load_state_dict(model.state_dict())
    plain.eval()
    x, samples = data()
    ours = model.predict(x, copy.deepcopy(samples))
    ref = plain.predict(x, copy.deepcopy(samples))
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a.pred_score, b.pred_score)

    def no_hooks():
        return all(not m._forward_hooks for m in model.modules())

    model.train()
    for _ in range(10):
        model.loss(x, samples)
    assert no_hooks()
    boom = dict(level='feature', stage=1, augment=MIXUP)
    failing = MODELS.build(cfg([boom]))
    failing.mix_modes[0]['augment'] = mock.Mock(
        side_effect=RuntimeError('boom'))
    with pytest.raises(RuntimeError, match='boom'):
        failing.loss(x, samples)
    assert all(not m._forward_hooks for m in failing.modules())


@pytest.mark.parametrize('mode', ALL_MODES[1:], ids=lambda m: str(m))
def test_lambda_one_equals_the_unmixed_loss(mode):
    mode = copy.deepcopy(mode)
    if mode['augment']['type'] == 'mmmix.AlignMix':
        mode['augment'].update(lam=1.0, direction='a_to_b')
    model = MODELS.build(cfg([mode]))
    model.eval()  # BN with running statistics: one forward = one function
    x, samples = data()
    with mock.patch('numpy.random.beta', return_value=1.0):
        mixed = model.loss(x, copy.deepcopy(samples))['loss']
    logits = model(x, mode='tensor')
    torch.testing.assert_close(mixed, soft_ce(logits, one_hot(samples)))


@pytest.mark.parametrize('level', ['input', 'feature', 'embedding'])
def test_features_and_labels_share_lambda_and_permutation(level):
    lam = 0.3
    perm = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0])
    model = MODELS.build(cfg([dict(level=level, augment=MIXUP)]))
    model.eval()
    x, samples = data()
    y = one_hot(samples)
    head_loss = mock.Mock(wraps=model.head.loss)
    with mock.patch('numpy.random.beta', return_value=lam), \
            mock.patch('torch.randperm', return_value=perm), \
            mock.patch.object(model.head, 'loss', head_loss):
        loss = model.loss(x, samples)['loss']
    target = lam * y + (1 - lam) * y[perm]
    seen = head_loss.call_args.args[1]
    for s, t in zip(seen, target):
        torch.testing.assert_close(s.gt_score, t)
    assert all('gt_score' not in s for s in samples)  # caller's untouched
    if level == 'input':
        logits = model(lam * x + (1 - lam) * x[perm], mode='tensor')
    elif level == 'feature':
        a = model.backbone(x)[-1]
        feat = model.neck((lam * a + (1 - lam) * a[perm], ))
        logits = model.head(feat)
    else:
        e = model.extract_feat(x)[-1]
        logits = model.head((lam * e + (1 - lam) * e[perm], ))
    torch.testing.assert_close(loss, soft_ce(logits, target))


def test_alignmix_preset_overfits_one_batch_and_logs_the_plan():
    torch.manual_seed(0)
    np.random.seed(0)
    g = torch.Generator().manual_seed(1)
    protos = torch.randn(NUM_CLASSES, 1, 16, 16, generator=g)
    model = MODELS.build(cfg([
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(level='feature', augment=dict(type='mmmix.AlignMix')),
        dict(level='embedding', augment=dict(type='Mixup', alpha=2.0)),
    ], mix_probs=[0.25, 0.5, 0.25]))
    _, samples = data(n=16)
    y = torch.cat([s.gt_label for s in samples])
    x = protos[y] + 0.5 * torch.randn(16, 1, 16, 16, generator=g)

    def clean_loss():
        with torch.no_grad():
            return F.cross_entropy(model(x, mode='tensor'), y).item()

    before = clean_loss()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history, logged = [], set()
    for _ in range(40):
        losses = model.loss(x, samples)
        logged |= set(losses)
        opt.zero_grad()
        losses['loss'].backward()
        opt.step()
        history.append(losses['loss'].item())
    assert np.isfinite(history).all()
    assert np.mean(history[-10:]) < 0.8 * np.mean(history[:10])
    assert clean_loss() < 0.5 * before
    assert {'mix_row_err', 'mix_n_iter', 'mix_lam'} <= logged


class TinyDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 16 * 16)

    def forward(self, e):
        return self.fc(e).view(-1, 1, 16, 16)


def test_recon_mode_trains_encoder_and_decoder_only():
    model = MODELS.build(cfg([dict(level='recon')], decoder=TinyDecoder(),
                             recon_weight=2.0))
    x, samples = data()
    losses = model.loss(x, samples)
    assert set(losses) == {'loss_recon'}
    recon = model.decoder(model.extract_feat(x)[-1])
    torch.testing.assert_close(losses['loss_recon'],
                               2.0 * F.mse_loss(recon, x))
    losses['loss_recon'].backward()
    assert model.decoder.fc.weight.grad is not None
    assert model.backbone.stem[0].weight.grad is not None
    assert model.head.fc.weight.grad is None
    # in a mixup step the decoder gets no gradient
    both = MODELS.build(cfg([dict(level='input', augment=MIXUP),
                             dict(level='recon')],
                            mix_probs=[1.0, 0.0], decoder=TinyDecoder()))
    both.loss(x, samples)['loss'].backward()
    assert both.decoder.fc.weight.grad is None


def test_backbone_stages():
    model = MODELS.build(cfg([dict(level='none')]))
    assert backbone_stages(model.backbone) == [
        'layer1', 'layer2', 'layer3', 'layer4']
    resnet = MODELS.build(dict(type='ResNet_CIFAR', depth=18))
    assert backbone_stages(resnet) == ['layer1', 'layer2', 'layer3',
                                       'layer4']
    wrn = MODELS.build(dict(type='mmmix.WideResNet', depth=10,
                            widen_factor=1))
    assert backbone_stages(wrn) == ['layer1', 'layer2', 'layer3']


def test_batch_of_one_is_defined():
    model = MODELS.build(cfg(ALL_MODES[1:3] + ALL_MODES[-1:]))
    model.eval()
    x, samples = data(n=1)
    for _ in range(6):
        assert torch.isfinite(model.loss(x, samples)['loss'])


@pytest.mark.parametrize('kwargs, match', [
    (dict(mix_modes=[]), 'at least one mode'),
    (dict(mix_modes=[dict(level='pixel')]), r'level must be one of'),
    (dict(mix_modes=[dict(level='input')]), 'needs an augment'),
    (dict(mix_modes=[dict(level='none', augment=MIXUP)]), 'takes no'),
    (dict(mix_modes=[dict(level='input', augment=MIXUP, alpha=1)]),
     'unknown keys'),
    (dict(mix_modes=[dict(level='feature', stage=4, augment=MIXUP)]),
     r'stage=4 is out of range.*layer4'),
    (dict(mix_modes=[dict(level='feature', stage='layer9', augment=MIXUP)]),
     "stage='layer9' is not a module"),
    (dict(mix_modes=[dict(level='input', stage=1, augment=MIXUP)]),
     "only valid with level='feature'"),
    (dict(mix_modes=[dict(level='recon')]), 'no decoder'),
    (dict(mix_modes=ALL_MODES[:2], mix_probs=[0.5, 0.6]), 'sum to 1'),
    (dict(mix_modes=ALL_MODES[:2], mix_probs=[1.2, -0.2]), '>= 0'),
    (dict(mix_modes=ALL_MODES[:2], mix_probs=[1.0]), 'one value per mode'),
    (dict(mix_modes=ALL_MODES[:1], recon_weight=0), 'recon_weight'),
    (dict(mix_modes=ALL_MODES[:1],
          train_cfg=dict(augments=[MIXUP])), 'train_cfg.augments'),
])
def test_bad_config(kwargs, match):
    modes = kwargs.pop('mix_modes')
    with pytest.raises(ValueError, match=match):
        MODELS.build(cfg(modes, **kwargs))


def test_hard_label_loss_is_refused():
    bad = cfg([dict(level='input', augment=MIXUP)])
    bad['head']['loss'] = dict(type='CrossEntropyLoss')
    with pytest.raises(ValueError, match='use_soft=True'):
        MODELS.build(bad)
    bad['data_preprocessor'] = dict(
        num_classes=NUM_CLASSES, batch_augments=dict(augments=[MIXUP]))
    bad['head']['loss']['use_soft'] = True
    with pytest.raises(ValueError, match='batch_augments'):
        MODELS.build(bad)
    assert isinstance(MODELS.build(cfg([dict(level='none')])),
                      MixupClassifier)


def _choose_on_rank(rank, world, port, out):
    import torch.distributed as dist
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}',
                            rank=rank, world_size=world)
    try:
        model = MODELS.build(cfg(ALL_MODES))
        np.random.seed(rank)  # different draws on each rank
        out[rank] = [model.choose_mode() for _ in range(20)]
    finally:
        dist.destroy_process_group()


def test_every_rank_runs_the_mode_of_rank_zero():
    import socket

    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    out = mp.Manager().dict()
    mp.spawn(_choose_on_rank, args=(2, port, out), nprocs=2)
    np.random.seed(0)
    uniform = np.full(len(ALL_MODES), 1 / len(ALL_MODES))
    expected = [int(np.random.choice(len(ALL_MODES), p=uniform))
                for _ in range(20)]
    assert out[1] == out[0] == expected


def test_multimix_at_the_logits_is_the_mixed_soft_ce():
    model = MODELS.build(cfg([dict(
        level='logits', augment=dict(type='mmmix.MultiMix', n=40))]))
    model.eval()
    x, samples = data()
    loss = model.loss(x, samples)['loss']
    lam = model.mix_modes[0]['augment'].last_lam
    assert lam.shape == (8, 40)
    logits = model(x, mode='tensor')
    torch.testing.assert_close(
        loss, soft_ce(lam.t() @ logits, lam.t() @ one_hot(samples)))


def test_multimix_logits_equal_mixed_embeddings():
    # linear head: mixing logits == mixing the fc input with the same Lambda
    x, samples = data()
    logit_model = MODELS.build(cfg([dict(
        level='logits', augment=dict(type='mmmix.MultiMix', n=30))]))
    emb_model = MODELS.build(cfg([dict(
        level='embedding', augment=dict(type='mmmix.MultiMix', n=30))]))
    emb_model.load_state_dict(logit_model.state_dict())
    logit_model.eval()
    emb_model.eval()
    torch.manual_seed(3)
    a = logit_model.loss(x, samples)['loss']
    torch.manual_seed(3)
    b = emb_model.loss(x, samples)['loss']
    torch.testing.assert_close(a, b)


def test_multimix_logits_of_a_stacked_head_mix_its_last_fc_input():
    model = MODELS.build(cfg(
        [dict(level='logits', augment=dict(type='mmmix.MultiMix', n=20))],
        head=dict(type='StackedLinearClsHead', num_classes=NUM_CLASSES,
                  in_channels=32, mid_channels=[16],
                  loss=dict(type='CrossEntropyLoss', use_soft=True))))
    assert model.mix_modes[0]['exact_logits']
    model.eval()
    x, samples = data()
    loss = model.loss(x, samples)['loss']
    lam = model.mix_modes[0]['augment'].last_lam
    pre = model.head.pre_logits(model.extract_feat(x))
    logits = model.head.layers[-1](lam.t() @ pre)
    torch.testing.assert_close(loss, soft_ce(logits, lam.t() @ one_hot(
        samples)))


@MODELS.register_module(force=True)
class _CosineTestHead(LinearClsHead):
    """A non-affine head: logits of normalised features and weights."""

    def forward(self, feats):
        x = F.normalize(self.pre_logits(feats), dim=1)
        return 10 * x @ F.normalize(self.fc.weight, dim=1).t()


def test_multimix_logits_fall_back_to_the_head_input_for_other_heads():
    model = MODELS.build(cfg(
        [dict(level='logits', augment=dict(type='mmmix.MultiMix', n=20))],
        head=dict(type='mmmix._CosineTestHead', num_classes=NUM_CLASSES,
                  in_channels=32,
                  loss=dict(type='CrossEntropyLoss', use_soft=True))))
    assert not model.mix_modes[0]['exact_logits']
    model.eval()
    x, samples = data()
    loss = model.loss(x, samples)['loss']
    lam = model.mix_modes[0]['augment'].last_lam
    emb = model.extract_feat(x)[-1]
    logits = model.head((lam.t() @ emb, ))
    torch.testing.assert_close(loss, soft_ce(logits, lam.t() @ one_hot(
        samples)))
    # mixing its logits would be a different loss
    wrong = soft_ce(lam.t() @ model.head((emb, )),
                    lam.t() @ one_hot(samples))
    assert not torch.allclose(loss, wrong)


@pytest.mark.parametrize('mode', [
    dict(level='input'), dict(level='feature', stage=0),
    dict(level='feature', stage='layer2'), dict(level='feature'),
    dict(level='embedding'), dict(level='logits')
], ids=str)
def test_multimix_interpolation_layer_switch(mode):
    # the interpolation-layer ablation (thesis Fig. 5.4a): MultiMix at any
    # level yields n mixed examples and n targets
    model = MODELS.build(cfg([dict(
        mode, augment=dict(type='mmmix.MultiMix', n=12))]))
    x, samples = data()
    calls = []
    model.head.loss_module.register_forward_hook(
        lambda m, args, out: calls.append(args[0].shape[0]))
    loss = model.loss(x, samples)['loss']
    assert calls == [12]
    loss.backward()
    assert model.backbone.stem[0].weight.grad is not None


@pytest.mark.parametrize('kwargs', [
    dict(), dict(attention='cam'), dict(attention='none'),
    dict(attention_act='softmax'), dict(dense_loss_only=True), dict(m=3),
    dict(resolution=1), dict(resolution=2)
])
def test_dense_multimix_level_trains(kwargs):
    model = MODELS.build(cfg([dict(
        level='dense', augment=dict(type='mmmix.DenseMultiMix', n=30,
                                    **kwargs))]))
    x, samples = data()
    loss = model.loss(x, samples)['loss']
    assert torch.isfinite(loss)
    loss.backward()
    assert model.head.fc.weight.grad is not None
    assert model.backbone.stem[0].weight.grad is not None


def test_dense_resolution_one_is_multimix_of_the_pooled_logits():
    # at 1x1 there is one position with attention 1: Dense MultiMix is
    # MultiMix of the GAP logits (same Dirichlet draws)
    x, samples = data()
    dense = MODELS.build(cfg([dict(level='dense', augment=dict(
        type='mmmix.DenseMultiMix', n=25, resolution=1))]))
    dense.eval()
    torch.manual_seed(0)
    loss = dense.loss(x, samples)['loss']
    torch.manual_seed(0)
    lam = dense.mix_modes[0]['augment'].weights(8, groups=(1, ))[0]
    logits = dense(x, mode='tensor')
    torch.testing.assert_close(
        loss, soft_ce(lam.t() @ logits, lam.t() @ one_hot(samples)))
    with pytest.raises(ValueError, match='resolution=8 exceeds'):
        MODELS.build(cfg([dict(level='dense', augment=dict(
            type='mmmix.DenseMultiMix', resolution=8))])).loss(x, samples)


def test_multimix_bad_config():
    with pytest.raises(ValueError, match='n must be an integer >= 1'):
        MODELS.build(cfg([dict(level='logits',
                               augment=dict(type='mmmix.MultiMix', n=0))]))
    with pytest.raises(ValueError, match='alpha must be > 0'):
        MODELS.build(cfg([dict(level='logits', augment=dict(
            type='mmmix.MultiMix', alpha=-1.0))]))
    with pytest.raises(ValueError, match='alpha_range'):
        MODELS.build(cfg([dict(level='logits', augment=dict(
            type='mmmix.MultiMix', alpha_range=(0, 2)))]))
    with pytest.raises(ValueError, match='attention must be one of'):
        MODELS.build(cfg([dict(level='dense', augment=dict(
            type='mmmix.DenseMultiMix', attention='saliency'))]))
    with pytest.raises(ValueError, match='dense mixing loss'):
        MODELS.build(cfg([dict(level='dense', augment=MIXUP)]))
    model = MODELS.build(cfg([dict(level='logits', augment=dict(
        type='mmmix.MultiMix', n=5, m=9))]))
    x, samples = data()
    with pytest.raises(ValueError, match='m=9 exceeds the batch size 8'):
        model.loss(x, samples)
