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
