"""mmengine ``Runner`` with the fixes this stack needs.

* ``collate_fn`` dicts inherited from another package's config carry a
  ``_scope_`` key (mmengine adds it to every dict with a ``type`` when a config
  inherits ``mmpretrain::...``). mmengine passes it on as a keyword argument to
  the collate function. Here the scope is honoured: the function is looked up
  in that package's registry and the key is not forwarded.
* Distributed training without a GPU: mmengine's ``pytorch`` launcher calls
  ``torch.cuda.set_device`` and wraps the model with ``device_ids``. Without
  CUDA the process group is initialised with gloo, SyncBN layers are turned
  back into BN (SyncBN needs a GPU) and DDP gets no device ids.

* mmengine's ``LoggerHook`` writes the test-metrics JSON from every rank
  into one file; ``default_hooks.logger`` of that type is swapped for
  :class:`~mmmix.engine.hooks.LoggerHook`, which writes it once.
* Resuming continues the random draws of the interrupted run: an
  :class:`~mmmix.engine.hooks.RNGStateHook` is registered unless the config
  has one, so generator states travel in the checkpoint.

``tools/train.py`` uses this runner unless the config sets ``runner_type``;
with other entry points set ``runner_type = 'mmmix.MMMixRunner'``.
"""
import copy
import datetime
import os
from functools import partial
from typing import Dict, Optional

import numpy as np
import torch
import torch.distributed as torch_dist
from mmengine.device import get_device
from mmengine.dist import is_distributed
from mmengine.hooks import LoggerHook as _MMEngineLoggerHook
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS, init_default_scope
from mmengine.runner import Runner, load_checkpoint

from mmmix.engine.hooks import LoggerHook, RNGStateHook
from mmmix.registry import FUNCTIONS, MODELS, RUNNERS


def resolve_collate_fn(collate_fn_cfg):
    """Turn a ``collate_fn`` config (dict, name or callable) into a callable.

    A ``_scope_`` key selects the registry scope the name is looked up in and
    is not passed to the function.
    """
    if callable(collate_fn_cfg):
        return collate_fn_cfg
    if not isinstance(collate_fn_cfg, dict):
        raise TypeError('collate_fn should be a dict or callable, but got '
                        f'{type(collate_fn_cfg)}')
    cfg = dict(collate_fn_cfg)
    scope = cfg.pop('_scope_', None)
    fn_type = cfg.pop('type')
    if isinstance(fn_type, str):
        registry = FUNCTIONS
        if scope is not None:
            # a package without a function registry (mmpretrain) uses the
            # registries its own registries fall back to: mmengine's.
            root = FUNCTIONS._get_root_registry()
            registry = root._search_child(scope) or root
        fn = registry.get(fn_type)
        if fn is None:
            raise KeyError(f'collate_fn.type={fn_type!r} is not a registered '
                           f'function (scope {scope or "default"}).')
    else:
        fn = fn_type
    return partial(fn, **cfg)


@RUNNERS.register_module()
class MMMixRunner(Runner):
    """Runner used by mmmix's tools; same arguments as mmengine's Runner."""

    def register_hooks(self, default_hooks=None, custom_hooks=None) -> None:
        default_hooks = dict(default_hooks or {})
        logger = default_hooks.get('logger')
        if isinstance(logger, dict) and logger.get('type') in (
                'LoggerHook', 'mmengine.LoggerHook', _MMEngineLoggerHook):
            logger = {k: v for k, v in logger.items() if k != '_scope_'}
            logger['type'] = LoggerHook
            default_hooks['logger'] = logger
        elif 'logger' not in default_hooks:
            default_hooks['logger'] = dict(type=LoggerHook)
        super().register_hooks(default_hooks, custom_hooks)
        if not any(isinstance(h, RNGStateHook) for h in self.hooks):
            self.register_hook(RNGStateHook())

    @staticmethod
    def build_dataloader(dataloader, seed: Optional[int] = None,
                         diff_rank_seed: bool = False):
        if isinstance(dataloader, dict) and 'collate_fn' in dataloader:
            dataloader = copy.copy(dataloader)
            dataloader['collate_fn'] = resolve_collate_fn(
                dataloader['collate_fn'])
        return Runner.build_dataloader(
            dataloader, seed=seed, diff_rank_seed=diff_rank_seed)

    def setup_env(self, env_cfg: Dict) -> None:
        if (self.distributed and not is_distributed()
                and not torch.cuda.is_available()):
            self._init_cpu_process_group(env_cfg.get('dist_cfg', {}))
        super().setup_env(env_cfg)

    def _init_cpu_process_group(self, dist_cfg: Dict) -> None:
        if self.launcher != 'pytorch':
            raise RuntimeError(
                f'launcher={self.launcher!r} without a GPU is not supported; '
                "use launcher='pytorch' (tools/dist_train.sh) for CPU "
                'training with several processes.')
        dist_cfg = dict(dist_cfg)
        backend = dist_cfg.pop('backend', 'gloo')
        if backend != 'gloo':
            print_log(
                f'No GPU: using the gloo backend instead of {backend!r}.',
                logger='current')
        timeout = dist_cfg.pop('timeout', None)
        if timeout is not None:
            dist_cfg['timeout'] = datetime.timedelta(seconds=timeout)
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']),
            **dist_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict], model):
        if (not self.distributed or is_model_wrapper(model)
                or get_device() != 'cpu'):
            return super().wrap_model(model_wrapper_cfg, model)
        # SyncBatchNorm needs a GPU: each process normalises its own batch.
        model = revert_sync_batchnorm(model.to('cpu'))
        if self.cfg.get('sync_bn', None) is not None:
            print_log('sync_bn is ignored on CPU (SyncBatchNorm needs a GPU).',
                      logger='current')
        if model_wrapper_cfg is None:
            model_wrapper_cfg = dict(
                type='MMDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get(
                    'find_unused_parameters', False))
        model_wrapper_cfg = dict(model_wrapper_cfg)
        model_wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
        # On CPU DistributedDataParallel must get ``device_ids=None``.
        return MODEL_WRAPPERS.build(
            model_wrapper_cfg, default_args=dict(module=model))


def build_model_from_cfg(cfg, checkpoint: Optional[str] = None):
    """The config's model, as the Runner builds it, in eval mode on the
    current device, with ``checkpoint`` loaded if given.

    Like mmengine's Runner, a top-level ``data_preprocessor`` (where
    mmpretrain configs keep the normalisation) applies to the model unless
    the model sets its own.
    """
    init_default_scope(cfg.get('default_scope', 'mmmix'))
    model_cfg = copy.deepcopy(cfg.model)
    if isinstance(model_cfg, dict) and cfg.get('data_preprocessor'):
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        load_checkpoint(model, checkpoint, map_location='cpu')
    return model.to(get_device()).eval()


def build_eval_loader(loader_cfg: dict, max_samples: Optional[int] = None,
                      seed: int = 0):
    """A dataloader over ``loader_cfg``'s dataset in dataset order (no
    shuffling), restricted to at most ``max_samples`` random samples (kept
    in dataset order) when given, for analysis tools.

    Raises:
        ValueError: when the dataset must be subsampled but has no
            ``get_subset_`` (mmengine's datasets and wrappers have it).
    """
    loader_cfg = copy.deepcopy(loader_cfg)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=False)
    loader_cfg.pop('batch_sampler', None)
    loader = MMMixRunner.build_dataloader(copy.deepcopy(loader_cfg),
                                          seed=seed)
    dataset = loader.dataset
    if max_samples is None or len(dataset) <= max_samples:
        return loader
    if not hasattr(dataset, 'get_subset_'):
        raise ValueError(f'{type(dataset).__name__} cannot be subsampled to '
                         f'{max_samples} samples (it has {len(dataset)})')
    keep = np.sort(np.random.default_rng(seed).choice(
        len(dataset), max_samples, replace=False))
    dataset.get_subset_(keep.tolist())
    loader_cfg['dataset'] = dataset
    return MMMixRunner.build_dataloader(loader_cfg, seed=seed)


def find_hook_cfg(cfg, type_name: str) -> dict:
    """The first ``custom_hooks`` entry of type ``type_name`` (with or
    without a scope prefix, e.g. ``'CLIMHook'`` matches ``'mmmix.CLIMHook'``).

    Raises:
        ValueError: when the config has none.
    """
    for hook in cfg.get('custom_hooks', None) or []:
        if str(hook.get('type', '')).split('.')[-1] == type_name:
            return hook
    raise ValueError(f'{cfg.filename} has no {type_name} in custom_hooks')


def build_runner(cfg) -> Runner:
    """Build :class:`MMMixRunner`, or the config's ``runner_type`` if set."""
    if 'runner_type' not in cfg:
        return MMMixRunner.from_cfg(cfg)
    return RUNNERS.build(cfg)


def shutdown_distributed() -> None:
    """Wait for every process, then close the process group.

    Leaving a gloo group to the interpreter's exit can abort a process whose
    peer has already gone (seen as SIGABRT in a two-process CPU test).
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()
