"""mmengine's ``LoggerHook`` with the test-metrics JSON written once.

mmengine 0.10's ``LoggerHook.after_test_epoch`` dumps the test metrics to
``<log_dir>/<timestamp>.json`` on every rank. All ranks share the timestamp,
so in a multi-process test they write the same file concurrently and can
leave it corrupt (a shorter write landing over a longer one). Here only the
main process writes it; the log line is still emitted on every rank as
before.
"""
import os.path as osp
from typing import Dict, Optional

from mmengine.dist import is_main_process
from mmengine.fileio import dump
from mmengine.hooks import LoggerHook as _MMEngineLoggerHook

from mmmix.registry import HOOKS


@HOOKS.register_module()
class LoggerHook(_MMEngineLoggerHook):
    """Drop-in replacement for mmengine's ``LoggerHook`` (same arguments).

    :class:`~mmmix.engine.runner.MMMixRunner` uses it in place of a
    ``default_hooks.logger`` of type ``LoggerHook``.
    """

    def after_test_epoch(self, runner,
                         metrics: Optional[Dict[str, float]] = None) -> None:
        tag, log_str = runner.log_processor.get_log_after_epoch(
            runner, len(runner.test_dataloader), 'test', with_non_scalar=True)
        runner.logger.info(log_str)
        if is_main_process():
            dump(self._process_tags(tag),
                 osp.join(runner.log_dir, self.json_log_path))
