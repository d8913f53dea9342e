import hashlib
import json
import os.path as osp

import pytest
import torch

from tests.test_tools.test_train_args import load_tool


def _checkpoint(path):
    state = {'backbone.conv.weight': torch.randn(4, 3, 3, 3),
             'neck.fc.bias': torch.randn(4)}
    torch.save(dict(state_dict=state,
                    meta=dict(epoch=3, iter=9, seed=0, work_dir='somewhere',
                              mmengine_version='0.10.7'),
                    optimizer=dict(state={}, param_groups=[dict(lr=0.1)]),
                    param_schedulers=[dict(last_epoch=3)],
                    message_hub=dict(runtime_info={}),
                    rng_state=[dict(torch=torch.get_rng_state())],
                    memory_bank=dict(feats=torch.randn(5, 2))), path)
    return state


def test_publish_keeps_weights_and_meta_and_names_by_sha(tmp_path, capsys):
    src = str(tmp_path / 'epoch_3.pth')
    state = _checkpoint(src)
    tool = load_tool('model_converters/publish_model.py')
    tool.main([src, str(tmp_path / 'out' / 'mocov2_fmnist.pth')])
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    path = info['path']
    with open(path, 'rb') as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    assert info['sha256'] == sha
    assert osp.basename(path) == f'mocov2_fmnist-{sha[:8]}.pth'
    assert not osp.exists(tmp_path / 'out' / 'mocov2_fmnist.pth')
    assert info['dropped'] == ['memory_bank', 'message_hub', 'optimizer',
                               'param_schedulers', 'rng_state']
    out = torch.load(path, weights_only=True)
    assert set(out) == {'state_dict', 'meta'}
    assert out['meta'] == dict(epoch=3, iter=9, seed=0,
                               mmengine_version='0.10.7')
    for k, v in state.items():
        assert torch.equal(out['state_dict'][k], v)
    # the same input gives the same file: never overwritten
    with pytest.raises(FileExistsError, match='refusing to overwrite'):
        tool.main([src, str(tmp_path / 'out' / 'mocov2_fmnist.pth')])
    assert osp.exists(path)


def test_publish_refuses_what_is_not_a_training_checkpoint(tmp_path):
    tool = load_tool('model_converters/publish_model.py')
    bad = str(tmp_path / 'bad.pth')
    torch.save(dict(weights={'a': torch.ones(1)}), bad)
    with pytest.raises(ValueError,
                       match="'state_dict'.*found \\['weights'\\]"):
        tool.main([bad, str(tmp_path / 'x.pth')])
    existing = tmp_path / 'y.pth'
    existing.write_bytes(b'')
    with pytest.raises(FileExistsError, match='y.pth exists'):
        tool.main([bad, str(existing)])


def test_keep_all_meta_when_no_keys_given(tmp_path, capsys):
    src = str(tmp_path / 'epoch_3.pth')
    _checkpoint(src)
    tool = load_tool('model_converters/publish_model.py')
    tool.main([src, str(tmp_path / 'm.pth'), '--keep-meta-keys'])
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert 'work_dir' in torch.load(info['path'], weights_only=True)['meta']
