"""Extract the backbone weights of an mmmix/mmpretrain checkpoint.

The output holds ``{'state_dict': ..., 'meta': ...}`` with the ``backbone.``
prefix removed (by default), ready for ``init_cfg=dict(type='Pretrained',
checkpoint=OUT)`` in mmpretrain, mmdet or mmseg backbones. The input is read
with ``torch.load(weights_only=True)`` through mmmix's allowlist.

Usage:
    python tools/model_converters/extract_backbone.py CKPT OUT [--prefix P]
    python tools/model_converters/extract_backbone.py CKPT OUT --teacher

``--teacher`` takes the EMA teacher / momentum encoder of DINO, DoRA, BYOL
and MoCo (``target_net.module.0.``, the network DINO and DoRA evaluate).
"""
import argparse

import torch

from mmmix.engine import safe_torch_load

# the EMA teacher / momentum encoder's backbone (CosineEMA(Sequential(...)))
TEACHER_PREFIX = 'target_net.module.0.'


def extract_backbone(checkpoint: dict, prefix: str = 'backbone.',
                     keep_prefix: bool = False) -> dict:
    """Return a checkpoint with only the weights under ``prefix``."""
    state = checkpoint.get('state_dict', checkpoint)
    out = {(k if keep_prefix else k[len(prefix):]): v
           for k, v in state.items() if k.startswith(prefix)}
    if not out:
        heads = sorted({k.split('.')[0] for k in state})
        raise KeyError(f'no weights start with {prefix!r}; the checkpoint '
                       f'has {heads}')
    meta = dict(checkpoint.get('meta', {}) or {})
    meta = {k: meta[k] for k in ('epoch', 'iter', 'mmengine_version',
                                 'experiment_name') if k in meta}
    return dict(state_dict=out, meta=dict(meta, source_prefix=prefix))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('checkpoint', help='input checkpoint (.pth)')
    parser.add_argument('out', help='output file')
    parser.add_argument('--prefix', default='backbone.',
                        help='keep the weights under this prefix')
    parser.add_argument('--teacher', action='store_true',
                        help=f'shorthand for --prefix {TEACHER_PREFIX}')
    parser.add_argument('--keep-prefix', action='store_true',
                        help='do not strip the prefix from the names')
    args = parser.parse_args(argv)
    prefix = TEACHER_PREFIX if args.teacher else args.prefix
    result = extract_backbone(safe_torch_load(args.checkpoint, 'cpu'),
                              prefix, args.keep_prefix)
    torch.save(result, args.out)
    print(f'{len(result["state_dict"])} tensors written to {args.out}')


if __name__ == '__main__':
    main()
