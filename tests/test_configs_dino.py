"""The DINO configs: both parse and build their model (ViT-S/16 with DINO's
head and loss for ImageNet; the tiny Fashion-MNIST ViT), and the Fashion
config, shrunk, trains with mmengine's Runner on the generated Fashion-MNIST,
keeps the last layer fixed in epoch 0, saves checkpoints and resumes from
one at the same iteration with the loss centre, the teacher and the
optimiser restored."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope

from mmmix.engine import build_runner
from mmmix.models.selfsup import DINO
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'dino', '*.py')))
IN1K = [c for c in CONFIGS if c.endswith('_in1k.py')]
FASHION = [c for c in CONFIGS if 'fashionmnist' in c]
LAST = 'head.last_layer.parametrizations.weight.original1'
K = 64
N_IMAGES, BATCH = 32, 8  # 4 iterations per epoch


def _build_model(cfg):
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(copy.deepcopy(cfg.model))


def test_configs_found():
    assert len(IN1K) == 1 and len(FASHION) == 1, CONFIGS


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(c) for c in CONFIGS])
def test_config_parses_and_builds(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmmix']
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type == 'DINO'
    if 'fashionmnist' not in path:
        # build the ImageNet model with a small K (the 65,536 prototypes of
        # the real head make no difference to the structure, only to time)
        assert cfg.model.head.out_channels == cfg.model.loss.out_channels \
            == 65536
        cfg.model.head.out_channels = cfg.model.loss.out_channels = K
    model = _build_model(cfg)
    assert isinstance(model, DINO)
    head = cfg.model.head
    assert model.head.last_layer.weight.shape == (
        head.out_channels, head.bottleneck_channels)
    assert model.dino_loss.center.shape == (1, cfg.model.loss.out_channels)
    # the teacher runs without drop path; the student keeps it
    assert all(getattr(m, 'drop_prob', 0.) == 0.
               for m in model.target_net.modules())
    assert any(getattr(m, 'drop_prob', 0.) > 0.
               for m in model.backbone.modules())
    assert cfg.optim_wrapper.constructor == 'DINOOptimWrapperConstructor'
    assert cfg.optim_wrapper.per_param_clip == 3.0
    assert cfg.optim_wrapper.freeze_last_layer == 1
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert cfg.param_scheduler[-1].type == \
        'mmpretrain.CosineAnnealingWeightDecay'
    assert cfg.param_scheduler[-1].eta_min == 0.4


def test_in1k_config_is_vit_small_dino():
    cfg = Config.fromfile(IN1K[0])
    cfg.model.head.out_channels = cfg.model.loss.out_channels = K
    model = _build_model(cfg)
    vit = model.backbone
    assert vit.embed_dims == 384 and len(vit.layers) == 12
    assert vit.layers[0].attn.num_heads == 6
    assert vit.layers[0].ffn.feedforward_channels == 1536
    assert vit.patch_embed.projection.kernel_size == (16, 16)
    assert model.head.mlp[0].in_features == 384
    assert not model.head.last_layer.parametrizations.weight.original0 \
        .requires_grad  # norm_last_layer=True, DINO's default
    loss = model.dino_loss
    assert (loss.warmup_teacher_temp, loss.teacher_temp,
            loss.warmup_teacher_temp_epochs) == (0.04, 0.07, 30)
    assert model.target_net.momentum == pytest.approx(0.004)
    views = cfg.train_pipeline[1]
    assert views.type == 'MultiView' and views.num_views == [1, 1, 8]
    sizes = [t[0].scale for t in views.transforms]
    assert sizes == [224, 224, 96]
    assert cfg.optim_wrapper.type == 'DINOAmpOptimWrapper'
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    # a 224 global and a 96 local crop through the real (small-K) model
    model.train()
    from mmengine.logging import MessageHub
    hub = MessageHub.get_current_instance()
    had = 'max_iters' in hub.runtime_info
    before = hub.runtime_info.get('max_iters')
    hub.update_info('max_iters', 100)
    try:
        g = torch.Generator().manual_seed(0)
        views = [torch.randn(1, 3, s, s, generator=g)
                 for s in (224, 224, 96)]
        out = model.loss(views, [None])
    finally:
        if had:
            hub.update_info('max_iters', before)
        else:
            hub._runtime_info.pop('max_iters', None)
    assert torch.isfinite(out['loss'])


class _Record(Hook):
    """What the model holds at the start of training and after each
    epoch (the start is after the runner's resume)."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.start = None
        self.epochs = {}

    @staticmethod
    def _snapshot(runner):
        model = runner.model
        return dict(
            iter=runner.iter, epoch=runner.epoch,
            state={k: v.detach().clone()
                   for k, v in model.state_dict().items()},
            lr=runner.optim_wrapper.get_lr()['lr'][0],
            optim=copy.deepcopy(runner.optim_wrapper.state_dict()))

    def before_train(self, runner):
        self.start = self._snapshot(runner)

    def after_train_epoch(self, runner):
        self.epochs[runner.epoch] = {
            k: v.detach().clone() for k, v in runner.model.state_dict().items()
            if k == LAST or k == 'dino_loss.center'}


def _tiny_fashion_cfg(fashion_root, work_dir, max_epochs, name):
    cfg = Config.fromfile(FASHION[0])
    model = cfg.model
    model.backbone.arch = dict(embed_dims=48, num_layers=2, num_heads=6,
                               feedforward_channels=96)
    model.head.update(in_channels=48, out_channels=K, hidden_channels=32,
                      bottleneck_channels=16)
    model.loss.out_channels = K
    cfg.train_dataloader.update(batch_size=BATCH, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=fashion_root,
                                        indices=N_IMAGES)
    # the k-NN evaluation has its own tests (tests/test_engine/test_hooks)
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if not h.type.endswith('KNNEvalHook')]
    cfg.train_cfg.max_epochs = max_epochs
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=-1)
    cfg.work_dir = str(work_dir)
    cfg.experiment_name = name
    cfg.log_level = 'WARNING'
    cfg.randomness = dict(seed=0)
    return cfg


def test_fashion_config_trains_saves_and_resumes(fashion_root, tmp_path):
    full = Config.fromfile(FASHION[0]).train_cfg.max_epochs
    assert full >= 3
    iters = N_IMAGES // BATCH
    # run 1: two of the config's epochs (its schedules span all of them)
    cfg = _tiny_fashion_cfg(fashion_root, tmp_path / 'a', 2, 'dino_a')
    runner = build_runner(cfg)
    first = _Record()
    runner.register_hook(first)
    runner.train()
    assert runner.iter == 2 * iters
    ckpt_path = osp.join(tmp_path, 'a', 'epoch_2.pth')
    assert osp.isfile(osp.join(tmp_path, 'a', 'epoch_1.pth'))
    ckpt = torch.load(ckpt_path, map_location='cpu', weights_only=False)
    state = ckpt['state_dict']
    assert ckpt['meta']['iter'] == 2 * iters
    assert ckpt['meta']['epoch'] == 2
    assert int(state['target_net.steps']) == 2 * iters
    assert not torch.all(state['dino_loss.center'] == 0)
    assert torch.isfinite(state['dino_loss.center']).all()
    # the last layer is fixed in epoch 0 and trains in epoch 1
    assert torch.equal(first.epochs[0][LAST], first.start['state'][LAST])
    assert not torch.equal(first.epochs[1][LAST], first.epochs[0][LAST])
    # the teacher is an EMA of the student, not a copy
    assert not torch.equal(state['target_net.module.0.cls_token'],
                           state['backbone.cls_token'])
    # run 2: resume from epoch 2 and finish the config's schedule
    cfg2 = _tiny_fashion_cfg(fashion_root, tmp_path / 'b', 3, 'dino_b')
    cfg2.load_from = ckpt_path
    cfg2.resume = True
    runner2 = build_runner(cfg2)
    second = _Record()
    runner2.register_hook(second)
    runner2.train()
    start = second.start
    assert (start['iter'], start['epoch']) == (2 * iters, 2)
    assert runner2.iter == 3 * iters
    assert osp.isfile(osp.join(tmp_path, 'b', 'epoch_3.pth'))
    # every tensor of the checkpoint is back: centre, teacher, student
    assert start['state'].keys() == state.keys()
    assert torch.equal(start['state']['dino_loss.center'],
                       state['dino_loss.center'])
    teacher = [k for k in state if k.startswith('target_net.')]
    assert len(teacher) > 10
    for k, v in state.items():
        assert torch.equal(start['state'][k], v), k
    # the optimiser (AdamW moments) and the schedule continue
    saved_opt = ckpt['optimizer']['state']
    resumed_opt = start['optim']['state']
    assert saved_opt.keys() == resumed_opt.keys()
    for idx in saved_opt:
        assert torch.equal(saved_opt[idx]['exp_avg'],
                           resumed_opt[idx]['exp_avg'])
    assert start['lr'] == pytest.approx(
        ckpt['optimizer']['param_groups'][0]['lr'])
    # the resumed run moved the centre and the teacher on
    final = runner2.model.state_dict()
    assert not torch.equal(final['dino_loss.center'],
                           state['dino_loss.center'])
    assert int(final['target_net.steps']) == 3 * iters
