"""Save the random number generators' state with every checkpoint."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from mmmix.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep Python, numpy and torch RNG states in checkpoints.

    mmengine reseeds on resume, so the random draws after a resume (data
    augmentation in the main process, random model ops) differ from those of
    an uninterrupted run. This hook stores the generators' states in the
    checkpoint and restores them just before training continues (after every
    other ``before_train``, and after mmengine's own reseeding on resume), so
    a resumed run draws what the uninterrupted run drew.

    Dataloader workers are reseeded by mmengine at every epoch unless
    ``persistent_workers=True``; persistent workers' RNG cannot be restored.
    :class:`~mmmix.engine.MMMixRunner` registers this hook by default.
    """
    priority = 'LOWEST'

    def __init__(self):
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(
            python=random.getstate(),
            numpy=np.random.get_state(),
            torch=torch.get_rng_state())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        state, self._pending = self._pending, None
        if not state:
            return
        random.setstate(_as_python_state(state['python']))
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


def _as_python_state(state):
    # ``random.setstate`` wants tuples; a checkpoint may hold lists.
    version, internal, gauss = state
    return version, tuple(internal), gauss
