"""Loading mmengine checkpoints under ``torch.load(weights_only=True)``.

Since torch 2.6 ``torch.load`` only unpickles tensors, containers and the
globals allowlisted with :func:`torch.serialization.add_safe_globals`.
mmengine checkpoints also hold the message hub (``HistoryBuffer`` objects with
numpy arrays) and numpy scalars in ``meta``, so resuming fails with the stock
loader. This module allowlists exactly the types mmengine writes and replaces
mmengine's local-file loader with one that always loads with
``weights_only=True`` and turns every failure into a :class:`CheckpointError`
that names the file and the reason: a global outside the allowlist is refused
(it is never unpickled), and a corrupt or truncated file says so.
"""
import os.path as osp
import pickle
import zipfile
from typing import Any, Callable, List

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader


class CheckpointError(RuntimeError):
    """A checkpoint file could not be loaded safely."""


def _numpy_globals() -> List[Any]:
    """Numpy types pickled by arrays and scalars in mmengine checkpoints."""
    try:  # numpy >= 1.25 exposes the reconstruct helpers under numpy.core
        from numpy.core.multiarray import _reconstruct, scalar
    except ImportError:  # pragma: no cover - numpy 2 layout
        from numpy._core.multiarray import _reconstruct, scalar
    dtype_classes = [type(np.dtype(t)) for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
        np.uint32, np.uint64, np.float16, np.float32, np.float64, np.str_)]
    return [_reconstruct, scalar, np.ndarray, np.dtype] + dtype_classes


#: Globals allowed in a checkpoint besides what torch allows by default.
#: ``HistoryBuffer`` pickles its statistics methods as
#: ``getattr(HistoryBuffer, 'mean')``, hence ``getattr``. The weights-only
#: unpickler still calls nothing but allowlisted callables, so ``getattr`` can
#: only name attributes of objects the file could already build.
SAFE_GLOBALS: List[Any] = [HistoryBuffer, getattr] + _numpy_globals()

_registered = False


def register_safe_globals(extra: List[Any] = ()) -> None:
    """Allowlist what mmengine writes into checkpoints (idempotent).

    Args:
        extra (list): More classes or functions to allow, e.g. a custom
            object a hook stores in ``meta``. Each is trusted by every later
            ``torch.load`` in the process, so only add your own types.
    """
    global _registered
    items = list(extra) if _registered else SAFE_GLOBALS + list(extra)
    if items:
        torch.serialization.add_safe_globals(items)
    _registered = True


def safe_torch_load(filename: str, map_location: Any = None) -> Any:
    """``torch.load(filename, weights_only=True)`` with clear errors.

    Raises:
        FileNotFoundError: the file does not exist.
        CheckpointError: the file is corrupt, truncated, not a torch
            checkpoint, or holds an object outside the allowlist.
    """
    if not osp.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename} can not be found.')
    register_safe_globals()
    try:
        return torch.load(
            filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        msg = str(e)
        if 'Weights only load failed' in msg or 'Unsupported global' in msg:
            detail = msg.split('Check the documentation')[0].strip()
            raise CheckpointError(
                f'checkpoint {filename} holds an object outside the '
                'allowlist of safe types, so it was not unpickled. If you '
                'trust the file and the type, allowlist it with '
                '`mmmix.engine.register_safe_globals([YourType])`. '
                f'torch said: {detail}') from None
        raise CheckpointError(
            f'checkpoint {filename} is corrupt or not a torch checkpoint '
            f'({osp.getsize(filename)} bytes): {msg}') from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError,
            OSError) as e:
        raise CheckpointError(
            f'checkpoint {filename} is corrupt or truncated '
            f'({osp.getsize(filename)} bytes): {type(e).__name__}: {e}'
        ) from None


def _load_from_local(filename: str, map_location: Any = None) -> Any:
    return safe_torch_load(filename, map_location)


def install_checkpoint_loader() -> Callable:
    """Make :func:`safe_torch_load` mmengine's loader for local files."""
    register_safe_globals()
    CheckpointLoader.register_scheme(
        prefixes='', loader=_load_from_local, force=True)
    return _load_from_local


class PrefixError(KeyError, ValueError):
    """No key of a checkpoint starts with the requested prefix."""

    def __str__(self) -> str:  # the message, not KeyError's quoted repr
        return str(self.args[0]) if self.args else ''


def load_prefixed_state_dict(module: torch.nn.Module, checkpoint: str,
                             prefix: str = '') -> None:
    """Load the ``prefix``-ed entries of a checkpoint's ``state_dict`` (or
    of a bare state dict) into ``module``, prefix stripped, strictly; every
    other key is dropped. The one prefix loader of the package (LMA's
    generator, the Frechet metric's feature network, the LMA / learned-view
    tools).

    Raises:
        PrefixError: (a KeyError and a ValueError) no key starts with
            ``prefix``; the message lists the checkpoint's prefixes.
        RuntimeError: the kept keys do not match ``module`` exactly (the
            message names the prefix and the checkpoint).
    """
    ckpt = safe_torch_load(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    if not isinstance(state, dict):
        raise TypeError(f'{checkpoint} holds no state dict')
    picked = {k[len(prefix):]: v for k, v in state.items()
              if k.startswith(prefix)}
    if not picked:
        heads = sorted({k.split('.')[0] + '.' for k in state})
        raise PrefixError(f'no key of {checkpoint} starts with prefix='
                          f'{prefix!r}; its prefixes: {heads[:10]}')
    try:
        module.load_state_dict(picked, strict=True)
    except RuntimeError as e:
        raise RuntimeError(
            f'the weights under prefix={prefix!r} of {checkpoint} do not '
            f'match {type(module).__name__}: {e}') from None
