"""Extract the backbone weights of an mmmix/mmpretrain checkpoint.

The output holds ``{'state_dict': ..., 'meta': ...}`` with the ``backbone.``
prefix removed (by default), ready for ``init_cfg=dict(type='Pretrained',
checkpoint=OUT)`` in mmpretrain, mmdet or mmseg backbones. The input is read
with ``torch.load(weights_only=True)`` through mmmix's allowlist.

Usage:
    python tools/model_converters/extract_backbone.py CKPT OUT [--prefix P]
    python tools/model_converters/extract_backbone.py CKPT OUT --teacher
    python tools/model_converters/extract_backbone.py CKPT OUT \\
        [--online | --teacher] [--arch {resnet,vit}] \\
        [--to {mmpretrain,mmdet,mmseg}]

``--online`` (the default) takes the online network (``backbone.``; for
MoCo the query encoder, what MoCo transfers); ``--teacher`` takes the EMA
teacher / momentum encoder: ``target_net.module.0.`` in DINO, DoRA and BYOL
(the network DINO and DoRA evaluate), ``encoder_k.module.0.`` in MoCo and
the MoCo-based models (CLIM, InterCLR, A2). SimSiam has no such network. A
prefix that matches nothing raises a ``KeyError`` naming the prefixes the
checkpoint has.

``--arch`` checks that the extracted keys are those of an mmpretrain
``ResNet`` (``conv1.weight``, ``layer1.*``) or ``VisionTransformer``
(``patch_embed.projection.weight``, ``pos_embed``,
``layers.0.attn.qkv.weight``) and raises a ``ValueError`` naming what it
expected and what it found otherwise.

``--to`` picks the key layout of the backbone that will load the file:

- ``mmpretrain`` (default): the names are kept.
- ``mmdet`` / ``mmseg`` with a ResNet: mmdet's and mmseg's ``ResNet`` use
  mmpretrain's names (``conv1``, ``bn1``, ``layer1.0.conv1``,
  ``layer1.0.downsample.0`` ...), so the names are kept. A ``ResNet_CIFAR``
  (3x3 ``conv1``) or a deep stem (``ResNetV1c/V1d``: mmpretrain names its
  stem ``stem.0.conv``, mmdet ``stem.0``) is refused.
- ``mmseg`` with a ViT: mmseg's ``VisionTransformer`` builds its attention
  from mmcv's ``MultiheadAttention`` (a ``torch.nn.MultiheadAttention``),
  so ``layers.{i}.attn.qkv.{weight,bias}`` becomes
  ``layers.{i}.attn.attn.in_proj_{weight,bias}`` (q, k, v stacked in the
  same order), ``layers.{i}.attn.proj.*`` becomes
  ``layers.{i}.attn.attn.out_proj.*`` and ``pre_norm.*`` becomes
  ``ln_pre.*``; ``ln1`` (final norm), ``layers.{i}.ln1/ln2``, ``ffn.*``,
  ``patch_embed.projection.*``, ``cls_token`` and ``pos_embed`` keep their
  names. mmseg's ViT loads non-strictly and ignores ``prefix``, so a wrong
  name would be skipped silently; that is what this mapping is for. mmseg
  1.x's ViT has no patch-embedding bias unless ``patch_bias=True``: set it
  (as ``configs/transfer/upernet_vit-s16_*`` does), or
  ``patch_embed.projection.bias`` is skipped the same way.

Examples:
    MoCo v2 ResNet-50 query encoder for an mmdet Faster R-CNN R50::

        python tools/model_converters/extract_backbone.py \\
            work_dirs/mocov2/epoch_200.pth r50_moco.pth \\
            --arch resnet --to mmdet

        model = dict(backbone=dict(
            type='ResNet', depth=50, norm_cfg=dict(type='SyncBN'),
            init_cfg=dict(type='Pretrained', checkpoint='r50_moco.pth')))

    DINO / DoRA ViT-S/16 teacher for an mmseg UperNet ViT-S::

        python tools/model_converters/extract_backbone.py \\
            work_dirs/dora/epoch_100.pth vit-s_dora_mmseg.pth \\
            --teacher --arch vit --to mmseg

        model = dict(backbone=dict(
            type='VisionTransformer', img_size=(512, 512), patch_size=16,
            embed_dims=384, num_layers=12, num_heads=6, mlp_ratio=4,
            out_indices=(3, 5, 7, 11), final_norm=True, patch_bias=True,
            init_cfg=dict(type='Pretrained',
                          checkpoint='vit-s_dora_mmseg.pth')))

    Without ``--to`` the file also loads from the full checkpoint with
    ``init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone.')``
    in mmpretrain and mmdet (not in mmseg's ViT, which ignores ``prefix``).
"""
import argparse
import re

import torch

from mmmix.engine import safe_torch_load

# the online network's backbone
ONLINE_PREFIX = 'backbone.'
# the EMA teacher / momentum encoder's backbone (CosineEMA(Sequential(...))):
# target_net in DINO, DoRA and BYOL, encoder_k in MoCo
TEACHER_PREFIXES = ('target_net.module.0.', 'encoder_k.module.0.')
TEACHER_PREFIX = TEACHER_PREFIXES[0]

ARCHS = ('resnet', 'vit')
TARGETS = ('mmpretrain', 'mmdet', 'mmseg')
_ARCH_NAMES = dict(
    resnet='a ResNet (conv1.weight, layer1.*)',
    vit='a VisionTransformer (patch_embed.projection.weight, pos_embed, '
    'layers.0.attn.qkv.weight)')
# mmpretrain ViT name -> mmseg ViT name (mmseg/models/backbones/vit.py)
_VIT_TO_MMSEG = [
    (re.compile(r'^(layers\.\d+\.attn\.)qkv\.(weight|bias)$'),
     r'\1attn.in_proj_\2'),
    (re.compile(r'^(layers\.\d+\.attn\.)proj\.(weight|bias)$'),
     r'\1attn.out_proj.\2'),
    (re.compile(r'^pre_norm\.(weight|bias)$'), r'ln_pre.\1'),
]
_VIT_SAME_IN_MMSEG = re.compile(
    r'^(cls_token|pos_embed|patch_embed\.(projection|norm)\.(weight|bias)'
    r'|ln1\.(weight|bias)'
    r'|layers\.\d+\.(ln1|ln2|ffn\.layers\.0\.0|ffn\.layers\.1)'
    r'\.(weight|bias))$')


def detect_arch(state: dict):
    """Return 'resnet', 'vit' or None for backbone keys without prefix."""
    if (any(k.startswith('layer1.') for k in state)
            and ('conv1.weight' in state
                 or any(k.startswith('stem.') for k in state))):
        return 'resnet'
    if ('patch_embed.projection.weight' in state and 'pos_embed' in state
            and 'layers.0.attn.qkv.weight' in state):
        return 'vit'
    return None


def _describe(state: dict) -> str:
    arch = detect_arch(state)
    if arch is not None:
        return _ARCH_NAMES[arch]
    if 'layers.0.attn.attn.in_proj_weight' in state:
        return ('an mmseg-layout VisionTransformer '
                '(layers.0.attn.attn.in_proj_weight)')
    return f'an unknown layout (first keys: {sorted(state)[:4]})'


def check_arch(state: dict, arch: str) -> None:
    """Raise ValueError unless ``state`` has the keys of ``arch``."""
    if arch not in ARCHS:
        raise ValueError(f'arch must be one of {ARCHS}, got {arch!r}')
    if detect_arch(state) != arch:
        raise ValueError(f'expected {_ARCH_NAMES[arch]}, found '
                         f'{_describe(state)}')


def convert_layout(state: dict, arch: str, to: str) -> dict:
    """Rename mmpretrain backbone keys for the ``to`` codebase."""
    if to not in TARGETS:
        raise ValueError(f'to must be one of {TARGETS}, got {to!r}')
    if to == 'mmpretrain':
        return dict(state)
    if arch == 'resnet':
        if any(k.startswith('stem.') for k in state):
            raise ValueError(
                f'a deep-stem ResNet (stem.*: ResNetV1c/V1d) has no {to} '
                'layout here: mmpretrain names its stem stem.0.conv, '
                f'{to} stem.0; use --to mmpretrain')
        if state['conv1.weight'].shape[-2:] != (7, 7):
            raise ValueError(
                f'conv1.weight is {tuple(state["conv1.weight"].shape)}, '
                f'not 7x7 (a ResNet_CIFAR stem?): {to} ResNets have a 7x7 '
                'conv1')
        return dict(state)  # mmdet / mmseg ResNet: mmpretrain's names
    if to == 'mmdet':
        raise ValueError('no mmdet layout for a VisionTransformer here; use '
                         '--to mmpretrain with an mmpretrain backbone')
    out, unknown = {}, []
    for k, v in state.items():
        for pattern, repl in _VIT_TO_MMSEG:
            if pattern.match(k):
                out[pattern.sub(repl, k)] = v
                break
        else:
            if _VIT_SAME_IN_MMSEG.match(k):
                out[k] = v
            elif not k.startswith('ln2.'):  # avg_featmap norm: not in mmseg
                unknown.append(k)
    if unknown:
        raise ValueError(f'no mmseg VisionTransformer name for {unknown[:5]}'
                         f'{" ..." if len(unknown) > 5 else ""}')
    return out


def teacher_prefix(checkpoint: dict) -> str:
    """The prefix of the EMA teacher / momentum encoder's backbone in
    ``checkpoint`` (one of ``TEACHER_PREFIXES``)."""
    state = checkpoint.get('state_dict', checkpoint)
    for prefix in TEACHER_PREFIXES:
        if any(k.startswith(prefix) for k in state):
            return prefix
    heads = sorted({k.split('.')[0] for k in state})
    raise KeyError(f'no EMA teacher or momentum encoder (weights under '
                   f'{" or ".join(TEACHER_PREFIXES)}); the checkpoint has '
                   f'{heads} (SimSiam has none: use --online)')


def extract_backbone(checkpoint: dict, prefix: str = ONLINE_PREFIX,
                     keep_prefix: bool = False, arch: str = None,
                     to: str = 'mmpretrain') -> dict:
    """Return a checkpoint with only the weights under ``prefix``.

    Args:
        checkpoint (dict): a checkpoint or a bare state dict.
        prefix (str): the weights to keep. Defaults to ``'backbone.'``.
        keep_prefix (bool): keep ``prefix`` in the names.
        arch (str, optional): 'resnet' or 'vit': check the keys.
        to (str): 'mmpretrain' (names kept), 'mmdet' or 'mmseg'.
    """
    state = checkpoint.get('state_dict', checkpoint)
    out = {k[len(prefix):]: v for k, v in state.items()
           if k.startswith(prefix)}
    if not out:
        heads = sorted({k.split('.')[0] for k in state})
        raise KeyError(f'no weights start with {prefix!r}; the checkpoint '
                       f'has {heads}')
    if to not in TARGETS:
        raise ValueError(f'to must be one of {TARGETS}, got {to!r}')
    if arch is not None:
        check_arch(out, arch)
    if to != 'mmpretrain':
        arch = arch or detect_arch(out)
        if arch is None:
            raise ValueError(f'--to {to} needs a ResNet or a '
                             f'VisionTransformer, found {_describe(out)}')
        out = convert_layout(out, arch, to)
    if keep_prefix:
        out = {prefix + k: v for k, v in out.items()}
    meta = dict(checkpoint.get('meta', {}) or {})
    meta = {k: meta[k] for k in ('epoch', 'iter', 'mmengine_version',
                                 'experiment_name') if k in meta}
    return dict(state_dict=out,
                meta=dict(meta, source_prefix=prefix, layout=to))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='input checkpoint (.pth)')
    parser.add_argument('out', help='output file')
    parser.add_argument('--prefix', default=ONLINE_PREFIX,
                        help='keep the weights under this prefix')
    which = parser.add_mutually_exclusive_group()
    which.add_argument('--online', action='store_true',
                       help=f'shorthand for --prefix {ONLINE_PREFIX}')
    which.add_argument('--teacher', action='store_true',
                       help='the EMA teacher / momentum encoder: --prefix '
                       f'{" or ".join(TEACHER_PREFIXES)}, whichever the '
                       'checkpoint has')
    parser.add_argument('--keep-prefix', action='store_true',
                        help='do not strip the prefix from the names')
    parser.add_argument('--arch', choices=ARCHS,
                        help='check that the weights are this architecture')
    parser.add_argument('--to', choices=TARGETS, default='mmpretrain',
                        help='key layout of the backbone that loads OUT')
    args = parser.parse_args(argv)
    checkpoint = safe_torch_load(args.checkpoint, 'cpu')
    prefix = (teacher_prefix(checkpoint) if args.teacher else
              ONLINE_PREFIX if args.online else args.prefix)
    result = extract_backbone(checkpoint, prefix, args.keep_prefix,
                              args.arch, args.to)
    torch.save(result, args.out)
    print(f'{len(result["state_dict"])} tensors written to {args.out} '
          f'({args.to} layout)')


if __name__ == '__main__':
    main()
