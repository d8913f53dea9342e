"""Publish a training checkpoint for the model zoo (the OpenMMLab way).

Keeps the model weights (``state_dict``) and ``meta``, drops everything a
resumed run needs but a user does not (optimizer, parameter schedulers,
message hub, RNG states, memory banks, CLIM tables, ...), saves the result
and renames it ``OUT_STEM-<first 8 hex digits of its sha256>.pth``, the
suffix that OpenMMLab model zoos use to name and check their files. The
input is read with ``torch.load(weights_only=True)`` through mmmix's
allowlist. An existing output is never overwritten.

Usage:
    python tools/model_converters/publish_model.py CKPT OUT_STEM.pth \
        [--keep-meta-keys K ...]

Prints the published path and its full sha256 (the last line is JSON:
``{"path": ..., "sha256": ..., "dropped": [...]}``).
"""
import argparse
import hashlib
import json
import os
import os.path as osp
from typing import Optional, Sequence, Tuple

import torch

from mmmix.engine import safe_torch_load

#: what a published checkpoint keeps
KEPT_KEYS = ('state_dict', 'meta')
#: meta entries that describe a run without naming the machine's paths
#: (mmengine's ``cfg`` text holds the work and data directories: the config
#: file is in the repository)
DEFAULT_META_KEYS = ('epoch', 'iter', 'mmengine_version', 'mmpretrain_version',
                     'experiment_name', 'dataset_meta', 'seed')


def publishable(checkpoint: dict,
                meta_keys: Optional[Sequence[str]] = DEFAULT_META_KEYS
                ) -> Tuple[dict, list]:
    """The weights and ``meta`` of ``checkpoint``, and the dropped keys.

    Args:
        checkpoint (dict): a training checkpoint (``state_dict``, ``meta``,
            ``optimizer``, ...).
        meta_keys (Sequence[str], optional): ``meta`` entries to keep; None
            keeps all of them.

    Raises:
        ValueError: when ``checkpoint`` has no ``state_dict`` of tensors.
    """
    state = checkpoint.get('state_dict') if isinstance(checkpoint,
                                                       dict) else None
    if not isinstance(state, dict) or not state or not all(
            isinstance(v, torch.Tensor) for v in state.values()):
        found = sorted(checkpoint) if isinstance(checkpoint, dict) else \
            type(checkpoint).__name__
        raise ValueError("expected a checkpoint with a 'state_dict' of "
                         f'tensors, found {found}')
    meta = dict(checkpoint.get('meta') or {})
    if meta_keys is not None:
        meta = {k: meta[k] for k in meta_keys if k in meta}
    dropped = sorted(k for k in checkpoint if k not in KEPT_KEYS)
    return dict(state_dict=state, meta=meta), dropped


def sha256sum(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def publish(in_file: str, out_file: str,
            meta_keys: Optional[Sequence[str]] = DEFAULT_META_KEYS) -> dict:
    """Write the publishable part of ``in_file`` as
    ``<out_file without .pth>-<sha256[:8]>.pth``; returns the path, the
    full sha256 and the dropped keys.

    Raises:
        FileExistsError: when the published file (or the temporary
            ``out_file``) already exists.
    """
    stem = out_file[:-4] if out_file.endswith('.pth') else out_file
    tmp = stem + '.pth'
    if osp.exists(tmp):
        raise FileExistsError(f'{tmp} exists: refusing to overwrite it')
    result, dropped = publishable(safe_torch_load(in_file, 'cpu'),
                                  meta_keys)
    os.makedirs(osp.dirname(osp.abspath(tmp)), exist_ok=True)
    torch.save(result, tmp)
    sha = sha256sum(tmp)
    final = f'{stem}-{sha[:8]}.pth'
    if osp.exists(final):
        os.remove(tmp)
        raise FileExistsError(f'{final} exists: refusing to overwrite it')
    os.rename(tmp, final)
    return dict(path=final, sha256=sha, dropped=dropped)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('in_file', help='training checkpoint (.pth)')
    parser.add_argument('out_file', help='output name; the sha256 prefix '
                        'is appended before .pth')
    parser.add_argument('--keep-meta-keys', nargs='*',
                        default=list(DEFAULT_META_KEYS),
                        help='meta entries to keep (none given: keep all)')
    args = parser.parse_args(argv)
    meta_keys = args.keep_meta_keys or None
    info = publish(args.in_file, args.out_file, meta_keys)
    print(f"published {info['path']} (sha256 {info['sha256']}); dropped: "
          f"{', '.join(info['dropped']) or 'nothing'}")
    print(json.dumps(info))


if __name__ == '__main__':
    main()
