"""The downstream transfer configs (``configs/transfer``): mmdet / mmseg
configs that fine-tune an exported mmmix backbone.

mmdet and mmseg cannot be imported with this stack (they assert
``mmcv < 2.2``), so the Makefile installs their wheels without
dependencies into ``.venv/downstream`` (``requirements/downstream.txt``),
outside the import path. The tests put that folder on ``sys.path`` only
while ``Config.fromfile`` resolves ``mmdet::`` / ``mmseg::`` (mmengine finds
the packages' config folders without importing them), and check each
config's values against its protocol. A fabricated MoCo v2 ResNet-50 and a
fabricated mmmix DINO ViT-S/16 checkpoint are exported with
``tools/model_converters/extract_backbone.py``; ``tests/downstream_probe.py``
(another process) builds the real mmdet / mmseg modules of each config from
their source files, loads the export through the config's own ``init_cfg``
and reports which weights arrived, plus the output shapes the heads expect.
"""
import contextlib
import copy
import functools
import json
import os
import os.path as osp
import pickle
import re
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub

from tests.conftest import ROOT
from tests.test_tools.test_train_args import load_tool

TRANSFER = osp.join(ROOT, 'configs', 'transfer')
DOWNSTREAM = os.environ.get('MMMIX_DOWNSTREAM',
                            osp.join(sys.prefix, 'downstream'))
C4 = 'faster-rcnn_r50-c4_syncbn-ms-8xb2-24k_voc0712.py'
FPN = 'mask-rcnn_r50_fpn_syncbn-ms-8xb2-1x_coco.py'
SSD = 'ssd300_r50_syncbn-8xb8-24e_voc0712.py'
UPERNET = 'upernet_vit-s16_ln_mln_4xb4-160k_ade20k-512x512.py'
#: config -> (inherited downstream config, exported file it loads)
CONFIGS = {
    C4: ('mmdet::pascal_voc/faster-rcnn_r50-caffe-c4_ms-18k_voc0712.py',
         'work_dirs/transfer/resnet50_mmdet.pth'),
    FPN: ('mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py',
          'work_dirs/transfer/resnet50_mmdet.pth'),
    SSD: ('mmdet::pascal_voc/ssd300_voc0712.py',
          'work_dirs/transfer/resnet50_mmdet.pth'),
    UPERNET: ('mmseg::vit/vit_deit-s16-ln_mln_upernet_8xb2-160k_ade20k-'
              '512x512.py', 'work_dirs/transfer/vit-small-p16_mmseg.pth'),
}
SYNCBN = dict(type='SyncBN', requires_grad=True)
RGB_MEAN = [123.675, 116.28, 103.53]
RGB_STD = [58.395, 57.12, 57.375]
PACKAGE_DIR = dict(mmdet='mmdet', mmseg='mmseg')


@contextlib.contextmanager
def downstream_on_path():
    """``.venv/downstream`` on ``sys.path`` (at the end: its top-level
    ``tests`` folder must not shadow ours) while mmengine resolves
    ``mmdet::`` / ``mmseg::``."""
    if not osp.isdir(osp.join(DOWNSTREAM, 'mmdet')):
        pytest.fail(f'{DOWNSTREAM} has no mmdet / mmseg configs: run `make '
                    'install` (it installs requirements/downstream.txt '
                    'there with pip --no-deps --target)')
    # mmpretrain imports mmdet (for ResLayerExtraNorm) when it finds it and
    # only catches an ImportError: import it first, while mmdet cannot be
    # found (the C4 config's custom_imports names that module)
    import mmpretrain.models  # noqa: F401
    sys.path.append(DOWNSTREAM)
    try:
        yield
    finally:
        sys.path.remove(DOWNSTREAM)


@functools.lru_cache(maxsize=None)
def _parse(name):
    with downstream_on_path():
        return Config.fromfile(osp.join(TRANSFER, name))


def load(name):
    return copy.deepcopy(_parse(name))


def test_configs_found():
    found = {osp.basename(p) for p in os.listdir(TRANSFER)
             if p.endswith('.py')}
    assert found == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_inherits_the_downstream_config(name):
    base, checkpoint = CONFIGS[name]
    with open(osp.join(TRANSFER, name)) as f:
        text = f.read()
    assert re.search(rf"^_base_ = '{re.escape(base)}'$", text, re.M), base
    package, path = base.split('::')
    assert osp.isfile(osp.join(DOWNSTREAM, PACKAGE_DIR[package], '.mim',
                               'configs', path))
    cfg = load(name)
    # parsing did not import the downstream package (it cannot be)
    assert 'mmdet' not in sys.modules and 'mmseg' not in sys.modules
    # nothing of mmmix is needed downstream
    assert 'mmmix' not in (cfg.get('custom_imports') or {}).get(
        'imports', [])
    assert cfg.get('default_scope') == package
    assert cfg.model.backbone.init_cfg == dict(type='Pretrained',
                                               checkpoint=checkpoint)


def _resnet_values(bb, num_stages, out_indices):
    assert (bb.type, bb.depth, bb.num_stages, tuple(bb.out_indices),
            bb.style, bb.frozen_stages, bb.norm_eval) == (
                'ResNet', 50, num_stages, out_indices, 'pytorch', -1, False)
    assert bb.norm_cfg == SYNCBN
    assert len(bb.get('strides', (1, 2, 2, 2))) == num_stages


def test_faster_rcnn_c4_moco_protocol():
    cfg = load(C4)
    model = cfg.model
    assert model.type == 'FasterRCNN'
    _resnet_values(model.backbone, 3, (2, ))
    pre = model.data_preprocessor
    assert (pre.mean, pre.std, pre.bgr_to_rgb) == (RGB_MEAN, RGB_STD, True)
    head = model.roi_head.shared_head
    assert (head.type, head.depth, head.stage, head.style, head.norm_eval) \
        == ('ResLayerExtraNorm', 50, 3, 'pytorch', False)
    assert head.norm_cfg == SYNCBN
    # res5 comes from the same exported file as the stem and res2-res4
    assert head.init_cfg == model.backbone.init_cfg
    assert 'mmpretrain.models.utils.res_layer_extra_norm' in \
        cfg.custom_imports.imports
    assert model.roi_head.bbox_head.num_classes == 20
    # 24k iterations of 16 images, lr 0.02, warm-up 100, x0.1 at 18k / 22k
    assert (cfg.train_cfg.type, cfg.train_cfg.max_iters) == (
        'IterBasedTrainLoop', 24000)
    assert cfg.train_dataloader.batch_size * 8 == 16
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD', 0.02, 0.9, 1e-4)
    warmup, step = cfg.param_scheduler
    assert (warmup.type, warmup.start_factor, warmup.end, warmup.by_epoch) \
        == ('LinearLR', 0.001, 100, False)
    assert (step.type, list(step.milestones), step.gamma, step.end,
            step.by_epoch) == ('MultiStepLR', [18000, 22000], 0.1, 24000,
                               False)
    # short side 480..800 step 32 for training, 800 for testing
    datasets = cfg.train_dataloader.dataset.datasets
    assert [d.ann_file for d in datasets] == [
        'VOC2007/ImageSets/Main/trainval.txt',
        'VOC2012/ImageSets/Main/trainval.txt']
    resize = datasets[0].pipeline[2]
    assert resize.type == 'RandomChoiceResize'
    assert [s[1] for s in resize.scales] == list(range(480, 801, 32))
    test_resize = cfg.test_dataloader.dataset.pipeline[1]
    assert tuple(test_resize.scale) == (1333, 800)
    assert cfg.test_dataloader.dataset.ann_file == \
        'VOC2007/ImageSets/Main/test.txt'
    # MoCo's AP: the mean of the VOC2007 (11-point) AP over IoU .50:.95
    metric = cfg.test_evaluator
    assert (metric.type, metric.eval_mode) == ('VOCMetric', '11points')
    assert metric.iou_thrs == pytest.approx(
        [0.5 + 0.05 * i for i in range(10)])


def test_mask_rcnn_fpn_syncbn_1x():
    cfg = load(FPN)
    model = cfg.model
    assert model.type == 'MaskRCNN'
    _resnet_values(model.backbone, 4, (0, 1, 2, 3))
    assert model.neck.type == 'FPN' and model.neck.norm_cfg == SYNCBN
    assert list(model.neck.in_channels) == [256, 512, 1024, 2048]
    bbox, mask = model.roi_head.bbox_head, model.roi_head.mask_head
    assert bbox.type == 'Shared4Conv1FCBBoxHead'
    assert bbox.norm_cfg == mask.norm_cfg == SYNCBN
    assert bbox.num_classes == mask.num_classes == 80
    pre = model.data_preprocessor
    assert (pre.mean, pre.std, pre.bgr_to_rgb) == (RGB_MEAN, RGB_STD, True)
    assert cfg.train_cfg.max_epochs == 12
    assert list(cfg.param_scheduler[1].milestones) == [8, 11]
    assert cfg.optim_wrapper.optimizer.lr == 0.02
    assert cfg.train_dataloader.batch_size * 8 == 16
    resize = cfg.train_dataloader.dataset.pipeline[2]
    assert resize.type == 'RandomChoiceResize'
    assert [s[1] for s in resize.scales] == list(range(640, 801, 32))
    assert cfg.train_dataloader.dataset.pipeline[1].with_mask


def test_ssd300_resnet50():
    cfg = load(SSD)
    model = cfg.model
    assert model.type == 'SingleStageDetector'
    bb = model.backbone
    _resnet_values(bb, 3, (1, 2))
    assert 'with_last_pool' not in bb  # no VGG argument left
    assert list(model.neck.in_channels) == [512, 1024]
    assert model.bbox_head.num_classes == 20
    assert model.bbox_head.anchor_generator.input_size == 300
    pre = model.data_preprocessor
    assert (pre.mean, pre.std, pre.bgr_to_rgb) == (RGB_MEAN, RGB_STD, True)
    # the Expand transform fills with the same mean
    pipeline = cfg.train_dataloader.dataset.dataset.datasets[0].pipeline
    expand = [t for t in pipeline if t.type == 'Expand'][0]
    assert expand.mean == RGB_MEAN and expand.to_rgb


def test_upernet_vit_small_ibot_settings():
    cfg = load(UPERNET)
    model = cfg.model
    assert model.type == 'EncoderDecoder'
    assert model.pretrained is None  # else mmseg rejects init_cfg
    bb = model.backbone
    assert (bb.type, bb.patch_size, bb.embed_dims, bb.num_layers,
            bb.num_heads, bb.mlp_ratio, tuple(bb.img_size)) == (
                'VisionTransformer', 16, 384, 12, 6, 4, (512, 512))
    assert tuple(bb.out_indices) == (3, 5, 7, 11)
    assert bb.final_norm and bb.with_cls_token and bb.qkv_bias
    # mmpretrain's ViT has a patch-embedding bias, mmseg's not by default
    assert bb.patch_bias
    assert bb.norm_cfg == dict(type='LN', eps=1e-6)  # as mmpretrain's ViT-S
    assert bb.interpolate_mode == 'bicubic'
    assert list(model.neck.in_channels) == [384] * 4
    assert list(model.neck.scales) == [4, 2, 1, 0.5]
    assert list(model.decode_head.in_channels) == [384] * 4
    assert model.decode_head.channels == 512
    assert model.decode_head.num_classes == 150
    assert model.auxiliary_head.in_channels == 384
    # spec dora.md §6: AdamW lr 6e-5, wd 1e-2, 1500 warm-up, 160k iters
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('AdamW', 6e-5, 0.01)
    warmup, poly = cfg.param_scheduler
    assert (warmup.type, warmup.end, warmup.by_epoch) == ('LinearLR', 1500,
                                                          False)
    assert (poly.type, poly.begin, poly.end, poly.power, poly.eta_min) == (
        'PolyLR', 1500, 160000, 1.0, 0.)
    assert cfg.train_cfg.max_iters == 160000
    assert cfg.train_dataloader.batch_size * 4 == 16
    assert tuple(cfg.crop_size) == (512, 512)
    assert cfg.train_dataloader.dataset.type == 'ADE20KDataset'


# ------------------------------------------ exported weights, real modules --
def _randomised(module):
    """``module``'s state with every float tensor random, so that a weight
    the downstream module failed to load cannot equal it by chance."""
    return {k: torch.randn_like(v) if v.is_floating_point() else v
            for k, v in module.state_dict().items()}


def _moco_state():
    from mmpretrain.models import MoCo
    torch.manual_seed(0)
    moco = MoCo(
        backbone=dict(type='ResNet', depth=50),
        neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=8,
                  out_channels=4),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2),
        queue_len=8, feat_dim=4)
    return _randomised(moco)


def _dino_state():
    from mmengine.registry import DefaultScope

    from mmmix.registry import MODELS
    hub = MessageHub.get_current_instance()
    saved = hub.runtime_info.get('max_iters')
    hub.update_info('max_iters', 10)
    try:
        with DefaultScope.overwrite_default_scope('mmmix'):
            dino = MODELS.build(dict(
                type='DINO',
                backbone=dict(type='mmpretrain.VisionTransformer',
                              arch='deit-small', img_size=224,
                              patch_size=16, out_type='cls_token'),
                head=dict(type='DINOHead', in_channels=384, out_channels=8,
                          hidden_channels=8, bottleneck_channels=4),
                loss=dict(type='DINOLoss', out_channels=8)))
    finally:
        if saved is None:
            hub._runtime_info.pop('max_iters', None)
        else:
            hub.update_info('max_iters', saved)
    torch.manual_seed(1)
    return _randomised(dino)


@pytest.fixture(scope='module')
def probed(tmp_path_factory):
    """Export the fabricated checkpoints as docs/transfer.md says, run
    ``tests/downstream_probe.py`` on every config; returns ``(results,
    sources)``, ``sources[file] = {key: tensor the export must hold}``."""
    root = tmp_path_factory.mktemp('transfer')
    tool = load_tool('model_converters/extract_backbone.py')
    moco = _moco_state()
    dino = _dino_state()
    exports = {
        # MoCo's query encoder (--online, the default), mmdet layout
        'resnet50_mmdet.pth': (moco, 'backbone.', 'resnet', 'mmdet'),
        # the DINO teacher (--teacher), mmseg layout
        'vit-small-p16_mmseg.pth': (dino, tool.TEACHER_PREFIX, 'vit',
                                    'mmseg'),
        # control: the same teacher in mmpretrain's layout
        'vit-small-p16_mmpretrain.pth': (dino, tool.TEACHER_PREFIX, 'vit',
                                         'mmpretrain'),
    }
    paths, sources = {}, {}
    for file, (state, prefix, arch, to) in exports.items():
        out = tool.extract_backbone(dict(state_dict=state), prefix,
                                    arch=arch, to=to)
        paths[file] = str(root / file)
        torch.save(out, paths[file])
        sources[file] = dict(out['state_dict'])
    # the exported tensors are the chosen network's, not the other one's
    moco_r50 = sources['resnet50_mmdet.pth']
    assert set(moco_r50) == {k[len('backbone.'):] for k in moco
                             if k.startswith('backbone.')}
    for key, value in moco_r50.items():
        assert torch.equal(value, moco['backbone.' + key])
        if value.is_floating_point():
            assert not torch.equal(value, moco['encoder_k.module.0.' + key])
    vit = sources['vit-small-p16_mmseg.pth']
    assert torch.equal(vit['layers.2.attn.attn.in_proj_weight'],
                       dino[tool.TEACHER_PREFIX + 'layers.2.attn.qkv.weight'])

    jobs = [
        dict(name=C4, family='c4', model=load(C4).model.to_dict(),
             checkpoint=paths['resnet50_mmdet.pth']),
        dict(name=FPN, family='fpn', model=load(FPN).model.to_dict(),
             checkpoint=paths['resnet50_mmdet.pth']),
        dict(name=SSD, family='ssd', model=load(SSD).model.to_dict(),
             checkpoint=paths['resnet50_mmdet.pth']),
        dict(name=UPERNET, family='vit', model=load(UPERNET).model.to_dict(),
             checkpoint=paths['vit-small-p16_mmseg.pth']),
        dict(name='control', family='vit_load',
             model=load(UPERNET).model.to_dict(),
             checkpoint=paths['vit-small-p16_mmpretrain.pth']),
    ]
    with open(root / 'jobs.pkl', 'wb') as f:
        pickle.dump(jobs, f)

    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONWARNINGS='ignore')
    proc = subprocess.run(
        [sys.executable, osp.join(ROOT, 'tests', 'downstream_probe.py'),
         DOWNSTREAM, str(root / 'jobs.pkl'), str(root / 'out.json')],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(root / 'out.json') as f:
        return json.load(f), sources


def _layer4(keys):
    return sorted(k for k in keys if k.startswith('layer4.'))


def test_c4_backbone_and_res5_head_load_the_export(probed):
    results, sources = probed
    r50 = sources['resnet50_mmdet.pth']
    res = results[C4]
    # stem + res2-res4 into the backbone, every weight from the file
    assert res['backbone']['missing'] == []
    assert res['backbone']['differs'] == []
    assert res['backbone']['unexpected'] == _layer4(r50)
    assert res['backbone']['equal'] == len(r50) - len(_layer4(r50))
    # res5 into the box head; its extra norm is new
    head = res['shared_head']
    assert res['head_class'] == 'ResLayerExtraNorm'
    assert head['missing'] == ['norm.bias', 'norm.num_batches_tracked',
                               'norm.running_mean', 'norm.running_var',
                               'norm.weight']
    assert head['differs'] == []
    assert head['equal'] == len(_layer4(r50))
    assert sorted(set(r50) - set(head['unexpected'])) == _layer4(r50)
    assert res['backbone_out'] == [[1, 1024, 4, 4]]  # stride 16
    assert res['head_out'] == [2, 2048, 7, 7]


def test_fpn_backbone_loads_the_whole_export(probed):
    results, sources = probed
    res = results[FPN]
    assert res['backbone'] == dict(missing=[], unexpected=[], differs=[],
                                   equal=len(sources['resnet50_mmdet.pth']))
    assert res['backbone_out'] == [[1, 256, 16, 16], [1, 512, 8, 8],
                                   [1, 1024, 4, 4], [1, 2048, 2, 2]]
    assert [s[1] for s in res['neck_out']] == [256] * 5


def test_ssd_backbone_gives_the_vgg_feature_sizes(probed):
    results, sources = probed
    r50 = sources['resnet50_mmdet.pth']
    res = results[SSD]
    assert res['backbone']['missing'] == []
    assert res['backbone']['differs'] == []
    assert res['backbone']['unexpected'] == _layer4(r50)
    assert res['backbone_out'] == [[1, 512, 38, 38], [1, 1024, 19, 19]]
    head = load(SSD).model.bbox_head
    assert [s[1] for s in res['neck_out']] == list(head.in_channels)
    # the SSD300 anchor grid: 38, 19, 10, 5, 3, 1
    assert [s[2] for s in res['neck_out']] == [38, 19, 10, 5, 3, 1]
    assert [round(300 / s[2]) for s in res['neck_out']][:2] == list(
        head.anchor_generator.strides[:2])


def test_upernet_vit_loads_the_mmseg_export(probed):
    results, sources = probed
    res = results[UPERNET]
    vit = res['backbone']
    assert vit['missing'] == [] and vit['unexpected'] == []
    # only the position grid differs: resized 14x14 -> 32x32 by mmseg
    assert vit['differs'] == ['pos_embed']
    assert vit['equal'] == len(sources['vit-small-p16_mmseg.pth']) - 1
    assert res['pos_embed_shape'] == [1, 1 + 32 * 32, 384]
    assert res['pos_embed_max_err'] < 1e-5
    assert res['backbone_out'] == [[1, 384, 16, 16]] * 4  # a 256 px input
    assert res['neck_out'] == [[1, 384, 64, 64], [1, 384, 32, 32],
                               [1, 384, 16, 16], [1, 384, 8, 8]]


def test_mmpretrain_layout_would_be_skipped_by_mmseg(probed):
    """Control: the teacher exported without ``--to mmseg`` loads
    (non-strictly) with every attention weight left at random init."""
    results, _ = probed
    vit = results['control']['backbone']
    assert 'layers.0.attn.attn.in_proj_weight' in vit['missing']
    assert 'layers.0.attn.qkv.weight' in vit['unexpected']
    assert len(vit['missing']) == 12 * 4  # in_proj and out_proj, w and b
