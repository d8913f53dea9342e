import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import mmpretrain's and mmmix's modules so they are registered.

    Args:
        init_default_scope (bool): make ``'mmmix'`` the default scope (mmmix
            registries fall back to mmpretrain's). Defaults to True.
    """
    from mmpretrain.utils import register_all_modules as _mmpretrain
    _mmpretrain(init_default_scope=False)
    import mmmix  # noqa: F401
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None:
        DefaultScope.get_instance('mmmix', scope_name='mmmix')
    elif current.scope_name != 'mmmix':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmmix"; a new one named "mmmix" is created.')
        DefaultScope.get_instance(
            f'mmmix-{datetime.datetime.now()}', scope_name='mmmix')
