import argparse
import json

import torch
from mmengine.logging import MessageHub

import mmmix.models.selfsup.dora as dora_module
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.test_tools.test_train_args import load_tool


def test_dora_benchmark_prints_the_issue_keys(capsys):
    bench = load_tool('benchmarks/dora.py')
    threads = torch.get_num_threads()
    hub = MessageHub.get_current_instance()
    before = dict(hub.runtime_info)
    bench.main(['--sizes', 'tiny', '--rounds', '2', '--warmup', '0',
                '--threads', '1', '--device', 'cpu'])
    out = capsys.readouterr().out.strip().splitlines()
    rec = json.loads(out[-1])
    # the process is left as it was
    assert torch.get_num_threads() == threads
    assert dict(hub.runtime_info) == before
    assert rec['target_step_over_dino'] == 1.3
    assert rec['rounds'] == 2 and rec['threads'] == 1
    for key in ('step_over_dino_tiny', 'step_over_plain_dino_tiny',
                'dora_ms_tiny', 'dino_clips_ms_tiny', 'dino_ms_tiny',
                'dora_profiled_ms_tiny', 'attention_ms_tiny',
                'sinkhorn_ms_tiny', 'object_masks_ms_tiny'):
        assert rec[key] > 0, key
    assert rec['masking_ms_tiny'] >= 0
    for part in ('attention', 'sinkhorn', 'masking'):
        assert 0 <= rec[f'{part}_share_tiny'] <= 1, part
    assert isinstance(rec['meets_target_tiny'], bool)
    assert rec['meets_target_tiny'] == (rec['step_over_dino_tiny'] <= 1.3)
    assert 'step_over_dino_vits' not in rec
    cfg = rec['config_tiny']
    assert (cfg['clips'], cfg['frames'], cfg['objects'], cfg['locals'],
            cfg['global_size'], cfg['local_size'], cfg['patch'],
            cfg['out_channels']) == (2, 3, 3, 2, 64, 32, 16, 1024)
    assert cfg['student_views_dora'] == 5 and cfg['student_views_dino'] == 3
    assert rec['sinkhorn_fp16_nan_free'] is True
    assert all(rec['sinkhorn_fp16_checks'].values())
    assert {'spread_fp16', 'realistic_fp16',
            'spread_fp32_autocast_bf16'} <= set(rec['sinkhorn_fp16_checks'])


def test_dora_benchmark_part_timers_are_restored():
    bench = load_tool('benchmarks/dora.py')
    register_all_modules(init_default_scope=False)
    args = argparse.Namespace(**dict.fromkeys(bench.OVERRIDES))
    model = MODELS.build(bench.model_cfg('dora', bench.size_config('tiny',
                                                                    args)))
    sk = dora_module.refine_prototypes
    timer = bench.PartTimer(model, lambda: None)
    with timer.install():
        assert dora_module.refine_prototypes is not sk
        assert {'object_masks', 'student_logits'} <= set(vars(model))
        assert '_compute' in vars(model._tap)
    assert dora_module.refine_prototypes is sk
    assert not {'object_masks', 'student_logits'} & set(vars(model))
    assert '_compute' not in vars(model._tap)
