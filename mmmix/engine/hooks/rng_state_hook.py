"""Save the random number generators' state with every checkpoint."""
import random

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook

from mmmix.registry import HOOKS


def _rng_state() -> dict:
    state = dict(
        python=random.getstate(),
        numpy=np.random.get_state(),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    version, internal, gauss = state['python']  # lists after a round trip
    random.setstate((version, tuple(internal), gauss))
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep Python, numpy and torch RNG states in checkpoints.

    mmengine reseeds on resume, so the random draws after a resume (data
    augmentation in the main process, random model ops) differ from those of
    an uninterrupted run. This hook stores the generators' states in the
    checkpoint (``checkpoint['rng_state']``, a list indexed by rank) and
    restores them just before training continues, after mmengine's own
    reseeding, so a resumed run draws what the uninterrupted run drew.

    Its priority (85) sits between ``LOW`` and ``CheckpointHook``'s
    ``VERY_LOW``: with several processes each rank's state is gathered at the
    end of every epoch (and every ``interval`` iterations for an
    iteration-based ``CheckpointHook``) just before the checkpoint is written
    by rank 0. Resumed with more processes than were saved, the extra ranks
    take rank 0's state. Dataloader workers are reseeded by mmengine at every
    epoch unless ``persistent_workers=True``; persistent workers' RNG cannot
    be restored. :class:`~mmmix.engine.MMMixRunner` registers this hook.
    """
    priority = 85

    def __init__(self):
        self._pending = None
        self._gathered = None
        self._ckpt_hook = None

    # ------------------------------------------------------------- capture
    def _gather(self, runner) -> None:
        if get_world_size() > 1:
            self._gathered = (runner.iter, all_gather_object(_rng_state()))

    def after_train_epoch(self, runner) -> None:
        self._gather(runner)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs=None) -> None:
        hook = self._ckpt_hook
        if hook is not None and not hook.by_epoch and \
                self.every_n_train_iters(runner, hook.interval):
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        own = _rng_state()  # rank 0 (only rank 0 saves)
        states = [own]
        if self._gathered is not None and self._gathered[0] == runner.iter:
            states = [own] + list(self._gathered[1][1:])
        checkpoint['rng_state'] = states

    # ------------------------------------------------------------- restore
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        states = checkpoint.get('rng_state')
        if isinstance(states, dict):  # a single state
            states = [states]
        self._pending = states

    def before_train(self, runner) -> None:
        self._ckpt_hook = next(
            (h for h in runner.hooks if isinstance(h, CheckpointHook)), None)
        states, self._pending = self._pending, None
        if not states:
            return
        rank = get_rank()
        _set_rng_state(states[rank] if rank < len(states) else states[0])
