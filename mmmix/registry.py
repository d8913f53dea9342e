"""Registries of mmmix, children of mmpretrain's (scope ``'mmmix'``).

Every registry here has the mmpretrain registry of the same name as parent, so
a config whose ``default_scope`` is ``'mmmix'`` finds mmmix components first
and falls back to mmpretrain's and then mmengine's. A config that inherits an
mmpretrain config keeps ``_scope_='mmpretrain'`` on inherited dicts; name mmmix
components there with the scope prefix, e.g. ``type='mmmix.KNNEvalHook'``.
"""
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry
from mmpretrain import registry as mmpretrain_registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS',
    'OPTIMIZERS', 'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS',
    'PARAM_SCHEDULERS', 'DATASETS', 'DATA_SAMPLERS', 'TRANSFORMS', 'MODELS',
    'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS', 'BATCH_AUGMENTS', 'TASK_UTILS',
    'METRICS', 'EVALUATORS', 'VISUALIZERS', 'VISBACKENDS', 'FUNCTIONS'
]


def _child(name: str, location: str) -> Registry:
    parent = getattr(mmpretrain_registry, name)
    return Registry(
        parent.name, parent=parent, scope='mmmix', locations=[location])


RUNNERS = _child('RUNNERS', 'mmmix.engine')
RUNNER_CONSTRUCTORS = _child('RUNNER_CONSTRUCTORS', 'mmmix.engine')
LOOPS = _child('LOOPS', 'mmmix.engine')
HOOKS = _child('HOOKS', 'mmmix.engine')
LOG_PROCESSORS = _child('LOG_PROCESSORS', 'mmmix.engine')
OPTIMIZERS = _child('OPTIMIZERS', 'mmmix.engine')
OPTIM_WRAPPERS = _child('OPTIM_WRAPPERS', 'mmmix.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child('OPTIM_WRAPPER_CONSTRUCTORS',
                                    'mmmix.engine')
PARAM_SCHEDULERS = _child('PARAM_SCHEDULERS', 'mmmix.engine')

DATASETS = _child('DATASETS', 'mmmix.datasets')
DATA_SAMPLERS = _child('DATA_SAMPLERS', 'mmmix.datasets')
TRANSFORMS = _child('TRANSFORMS', 'mmmix.datasets')

MODELS = _child('MODELS', 'mmmix.models')
MODEL_WRAPPERS = _child('MODEL_WRAPPERS', 'mmmix.models')
WEIGHT_INITIALIZERS = _child('WEIGHT_INITIALIZERS', 'mmmix.models')
BATCH_AUGMENTS = _child('BATCH_AUGMENTS', 'mmmix.models')
TASK_UTILS = _child('TASK_UTILS', 'mmmix.models')

METRICS = _child('METRICS', 'mmmix.evaluation')
EVALUATORS = _child('EVALUATORS', 'mmmix.evaluation')

VISUALIZERS = _child('VISUALIZERS', 'mmmix')
VISBACKENDS = _child('VISBACKENDS', 'mmmix')

# mmpretrain has no FUNCTIONS registry of its own (collate functions live in
# mmengine's), so ours is a direct child of mmengine's.
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, scope='mmmix',
    locations=['mmmix.datasets'])
