import json
import os.path as osp

import pytest

from tests.test_tools.test_train_args import load_tool


def test_plots_change_ratio_and_nmi(tmp_path, capsys):
    run = tmp_path / 'run'
    run.mkdir()
    (run / 'interclr_clusters.json').write_text(json.dumps([
        dict(tag='init', epoch=0, nmi=0.4),
        dict(tag='resumed', epoch=1, nmi=0.9),
        dict(tag='epoch', epoch=1, nmi=0.1, change_ratio=0.99),
        dict(tag='epoch', epoch=2, nmi=0.3, change_ratio=0.5)]))
    tool = load_tool('analysis/interclr_curves.py')
    out = str(tmp_path / 'fig.png')
    tool.main([str(run), '--out', out, '--labels', 'A'])
    series = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert series['A']['change'] == [[1, 99.0], [2, 50.0]]
    assert series['A']['nmi'] == [[0, 40.0], [1, 10.0], [2, 30.0]]
    assert osp.getsize(out) > 1000
    with pytest.raises(ValueError, match='labels'):
        tool.main([str(run), '--out', out, '--labels', 'A', 'B'])
    with pytest.raises(FileNotFoundError):
        tool.main([str(tmp_path), '--out', out])
