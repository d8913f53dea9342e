"""Build the real mmdet / mmseg modules of the transfer configs, load an
exported backbone into them through their ``init_cfg``, and report what
was loaded (used by ``tests/test_configs_transfer.py``, in a subprocess).

mmdet 3.3 and mmseg 1.2 assert ``mmcv < 2.2`` in their package
``__init__``, so this stack (mmcv-lite 2.2.0) cannot import them. The
modules needed here (mmdet's ``ResNet``, ``ResLayer`` shared head, ``FPN``
and ``SSDNeck``; mmseg's ``VisionTransformer`` and ``MultiLevelNeck``) use
nothing of mmcv but its Python bricks, so this script registers empty
parent packages for ``mmdet`` / ``mmseg`` (their ``__init__`` not run) and
imports those module files from the ``--target`` install of
``requirements/downstream.txt``. It runs in its own process: the stubs
never reach the test session.

Usage: python tests/downstream_probe.py DOWNSTREAM_DIR JOBS.pkl OUT.json
``JOBS.pkl`` is a list of ``dict(name, family, model, checkpoint)``:
``model`` is the config's ``model`` dict, ``checkpoint`` the exported file
its ``init_cfg`` is pointed at.
"""
import functools
import importlib
import importlib.util
import json
import logging
import os.path as osp
import pickle
import sys
import types


def _stub_packages(root, names):
    """Empty parent packages, so that submodules import without the
    version-asserting ``__init__`` of mmdet / mmseg and their subpackages
    (which import every model, some needing compiled mmcv ops; for
    mmpretrain and mmdet.utils only to save seconds)."""
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = [osp.join(root, *name.split('.'))]
        sys.modules[name] = module


def _import_modules(root):
    sys.path.append(root)
    _stub_packages(root, (
        'mmdet', 'mmdet.models', 'mmdet.models.backbones',
        'mmdet.models.layers', 'mmdet.models.necks', 'mmdet.models.roi_heads',
        'mmdet.models.roi_heads.shared_heads', 'mmdet.utils', 'mmseg',
        'mmseg.models', 'mmseg.models.backbones', 'mmseg.models.necks',
        'mmseg.models.utils'))
    site = osp.dirname(osp.dirname(importlib.util.find_spec(
        'mmpretrain').origin))
    _stub_packages(site, ('mmpretrain', 'mmpretrain.models',
                          'mmpretrain.models.utils'))
    typing_utils = importlib.import_module('mmdet.utils.typing_utils')
    for name in ('ConfigType', 'OptConfigType', 'MultiConfig',
                 'OptMultiConfig'):
        setattr(sys.modules['mmdet.utils'], name,
                getattr(typing_utils, name))
    layers = sys.modules['mmdet.models.layers']
    layers.ResLayer = importlib.import_module(
        'mmdet.models.layers.res_layer').ResLayer
    backbones = sys.modules['mmdet.models.backbones']
    backbones.ResNet = importlib.import_module(
        'mmdet.models.backbones.resnet').ResNet
    importlib.import_module('mmdet.models.roi_heads.shared_heads.res_layer')
    seg_utils = sys.modules['mmseg.models.utils']
    seg_utils.PatchEmbed = importlib.import_module(
        'mmseg.models.utils.embed').PatchEmbed
    seg_utils.resize = importlib.import_module(
        'mmseg.models.utils.wrappers').resize
    # mmpretrain registers ResLayerExtraNorm into mmdet's registry when it
    # can import mmdet's ResNet and ResLayer: now it can
    ResLayerExtraNorm = importlib.import_module(
        'mmpretrain.models.utils.res_layer_extra_norm').ResLayerExtraNorm
    assert ResLayerExtraNorm is not None
    return dict(
        ResNet=backbones.ResNet,
        ResLayer=importlib.import_module(
            'mmdet.models.roi_heads.shared_heads.res_layer').ResLayer,
        ResLayerExtraNorm=ResLayerExtraNorm,
        FPN=importlib.import_module('mmdet.models.necks.fpn').FPN,
        SSDNeck=importlib.import_module('mmdet.models.necks.ssd_neck')
        .SSDNeck,
        VisionTransformer=importlib.import_module(
            'mmseg.models.backbones.vit').VisionTransformer,
        MultiLevelNeck=importlib.import_module(
            'mmseg.models.necks.multilevel_neck').MultiLevelNeck)


def _strip_scope(node):
    if isinstance(node, dict):
        return {k: _strip_scope(v) for k, v in node.items()
                if k != '_scope_'}
    if isinstance(node, list):
        return [_strip_scope(v) for v in node]
    return node


def _build(classes, cfg, checkpoint=None):
    cfg = _strip_scope(dict(cfg))
    if checkpoint is not None:
        init_cfg = dict(cfg['init_cfg'])
        init_cfg['checkpoint'] = checkpoint
        cfg['init_cfg'] = init_cfg
    return classes[cfg.pop('type')](**cfg)


@functools.lru_cache(maxsize=None)
def _load(checkpoint):
    import torch
    return torch.load(checkpoint, map_location='cpu')['state_dict']


def _compare(module, checkpoint):
    """What ``init_weights`` left in ``module`` against the file."""
    import torch
    state = _load(checkpoint)
    own = module.state_dict()
    differs = sorted(
        k for k in own if k in state
        and (own[k].shape != state[k].shape or not torch.equal(
            own[k], state[k])))
    return dict(
        missing=sorted(k for k in own if k not in state),
        unexpected=sorted(k for k in state if k not in own),
        differs=differs,
        equal=len(own) - len(differs) - sum(k not in state for k in own))


def _shapes(outputs):
    return [list(o.shape) for o in outputs]


def probe_c4(classes, model, checkpoint):
    import torch
    backbone = _build(classes, model['backbone'], checkpoint)
    head = _build(classes, model['roi_head']['shared_head'], checkpoint)
    backbone.init_weights()
    head.init_weights()
    backbone.eval()
    head.eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 64, 64))
        out = head(torch.randn(2, 1024, 14, 14))
    return dict(backbone=_compare(backbone, checkpoint),
                shared_head=_compare(head, checkpoint),
                backbone_out=_shapes(feats), head_out=list(out.shape),
                head_class=type(head).__name__)


def probe_fpn(classes, model, checkpoint):
    import torch
    backbone = _build(classes, model['backbone'], checkpoint)
    neck = _build(classes, model['neck'])
    backbone.init_weights()
    backbone.eval()
    neck.eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 64, 64))
        outs = neck(feats)
    return dict(backbone=_compare(backbone, checkpoint),
                backbone_out=_shapes(feats), neck_out=_shapes(outs))


def probe_ssd(classes, model, checkpoint):
    import torch
    backbone = _build(classes, model['backbone'], checkpoint)
    neck = _build(classes, model['neck'])
    backbone.init_weights()
    backbone.eval()
    neck.eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 300, 300))
        outs = neck(feats)
    return dict(backbone=_compare(backbone, checkpoint),
                backbone_out=_shapes(feats), neck_out=_shapes(outs))


def probe_vit_load(classes, model, checkpoint):
    backbone = _build(classes, model['backbone'], checkpoint)
    backbone.init_weights()
    return dict(backbone=_compare(backbone, checkpoint))


def probe_vit(classes, model, checkpoint):
    import torch
    import torch.nn.functional as F
    backbone = _build(classes, model['backbone'], checkpoint)
    neck = _build(classes, model['neck'])
    backbone.init_weights()
    backbone.eval()
    neck.eval()
    # the position grid resized by hand (bicubic, as mmseg's
    # interpolate_mode), the [CLS] position kept
    source = _load(checkpoint)['pos_embed']
    side = int((source.shape[1] - 1)**0.5)
    grid = source[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)
    rows, cols = (s // backbone.patch_size for s in backbone.img_size)
    grid = F.interpolate(grid, size=(rows, cols), mode='bicubic',
                         align_corners=False)
    expected = torch.cat(
        [source[:, :1], grid.flatten(2).transpose(1, 2)], dim=1)
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 256, 256))
        outs = neck(feats)
    return dict(
        backbone=_compare(backbone, checkpoint),
        pos_embed_shape=list(backbone.pos_embed.shape),
        pos_embed_max_err=float(
            (backbone.pos_embed - expected).abs().max()),
        backbone_out=_shapes(feats), neck_out=_shapes(outs))


FAMILIES = dict(c4=probe_c4, fpn=probe_fpn, ssd=probe_ssd, vit=probe_vit,
                vit_load=probe_vit_load)


def main(argv):
    root, jobs_path, out_path = argv
    classes = _import_modules(root)
    # init_weights logs every parameter it initialises
    logging.getLogger('mmengine').setLevel(logging.ERROR)
    with open(jobs_path, 'rb') as f:
        jobs = pickle.load(f)
    results = {
        job['name']: FAMILIES[job['family']](classes, job['model'],
                                             job['checkpoint'])
        for job in jobs
    }
    with open(out_path, 'w') as f:
        json.dump(results, f)


if __name__ == '__main__':
    main(sys.argv[1:])
