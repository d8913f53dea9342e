from .checkpoint import (
    CheckpointError,
    install_checkpoint_loader,
    register_safe_globals,
    safe_torch_load,
)
from .feature_extraction import extract_features, pool_features
from .hooks import *  # noqa: F401,F403
from .optimizers import *  # noqa: F401,F403
from .runner import (
    MMMixRunner,
    build_eval_loader,
    build_model_from_cfg,
    build_runner,
    find_hook_cfg,
    resolve_collate_fn,
    shutdown_distributed,
)

install_checkpoint_loader()

__all__ = [
    'CheckpointError', 'install_checkpoint_loader', 'register_safe_globals',
    'safe_torch_load', 'extract_features', 'pool_features', 'MMMixRunner',
    'build_eval_loader',
    'build_runner', 'build_model_from_cfg', 'find_hook_cfg',
    'resolve_collate_fn', 'shutdown_distributed'
]
