import json

import torch

from mmmix.engine import build_model_from_cfg
from tests.test_engine.test_hooks.test_clim_hook import tiny_clim_cfg
from tests.test_tools.test_train_args import load_tool


def test_nmi_of_kmeans_on_the_knn_queries(fashion_root, tmp_path, capsys):
    cfg = tiny_clim_cfg(fashion_root, tmp_path / 'work')
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    model = build_model_from_cfg(cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    tool = load_tool('analysis/feature_clusters.py')
    tool.main([cfg_path, ckpt, '--num-clusters', '4', '40', '--seeds', '0',
               '1'])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    with open(tmp_path / 'feature_clusters.json') as f:
        assert json.load(f) == result
    assert result['num_samples'] == 40  # the generated test split
    assert len(result['nmi_k4_per_seed']) == 2
    for k in (4, 40):
        assert 0 <= result[f'nmi_k{k}'] <= 1
    # 40 clusters of 40 images: every image alone, NMI of a partition
    # into singletons with 4 balanced classes = 2 log 4 / (log 4 + log 40)
    import math
    expect = 2 * math.log(4) / (math.log(4) + math.log(40))
    assert abs(result['nmi_k40'] - expect) < 1e-6
