import json
from types import SimpleNamespace
from unittest import mock

from mmengine.hooks import LoggerHook as MMEngineLoggerHook

from mmmix.engine import build_runner
from mmmix.engine.hooks import LoggerHook
from tests.conftest import tiny_quickstart_cfg


class _Processor:
    def get_log_after_epoch(self, runner, n, mode, with_non_scalar):
        return {'accuracy/top1': 50.0}, 'log line'


def _runner(tmp_path):
    return SimpleNamespace(
        log_processor=_Processor(), test_dataloader=[0, 1],
        logger=mock.Mock(), log_dir=str(tmp_path))


def test_test_metrics_json_written_only_by_main_process(tmp_path):
    hook = LoggerHook()
    hook.json_log_path = 'ts.json'
    runner = _runner(tmp_path)
    with mock.patch('mmmix.engine.hooks.logger_hook.is_main_process',
                    return_value=False):
        hook.after_test_epoch(runner)
    runner.logger.info.assert_called_once_with('log line')
    assert not (tmp_path / 'ts.json').exists()
    hook.after_test_epoch(runner)
    assert json.load(open(tmp_path / 'ts.json')) == {'accuracy/top1': 50.0}


def test_runner_swaps_in_the_logger_hook(fashion_root, tmp_path):
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path)
    assert cfg.default_hooks.logger.type == 'LoggerHook'
    runner = build_runner(cfg)
    loggers = [h for h in runner.hooks if isinstance(h, MMEngineLoggerHook)]
    assert len(loggers) == 1 and type(loggers[0]) is LoggerHook
    assert loggers[0].interval == cfg.default_hooks.logger.interval
