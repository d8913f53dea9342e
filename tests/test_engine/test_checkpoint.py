import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint

from mmmix.engine import CheckpointError, safe_torch_load

UNPICKLED = []


class Malicious:
    """Would record that it was unpickled (stands in for arbitrary code)."""

    def __reduce__(self):
        return (UNPICKLED.append, ('ran', ))


def mmengine_like_checkpoint():
    hub = MessageHub.get_instance('test_checkpoint_hub')
    hub.update_scalar('train/loss', 1.5)
    hub.update_scalar('train/loss', np.float64(0.5))
    hub.update_info('iter', 3)
    return dict(
        meta=dict(epoch=1, iter=3, seed=np.int64(7),
                  hook_msgs=dict(last_ckpt='x.pth'),
                  arr=np.arange(3, dtype=np.float32)),
        state_dict=dict(w=torch.ones(2)),
        message_hub=hub.state_dict())


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    path = str(tmp_path / 'ok.pth')
    torch.save(mmengine_like_checkpoint(), path)
    # the stock torch.load default (weights_only=True) goes through mmmix's
    # registered loader, which mmengine's runner uses for local files
    ckpt = _load_checkpoint(path, map_location='cpu')
    assert ckpt['meta']['seed'] == 7
    buf = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(buf, HistoryBuffer) and buf.mean() == 1.0
    np.testing.assert_array_equal(ckpt['meta']['arr'], [0, 1, 2])
    loader = CheckpointLoader._schemes['']
    assert loader.__module__ == 'mmmix.engine.checkpoint'


def test_object_outside_allowlist_is_refused_not_unpickled(tmp_path):
    path = str(tmp_path / 'evil.pth')
    torch.save(dict(state_dict={}, meta=dict(x=Malicious())), path)
    with pytest.raises(CheckpointError, match='outside the allowlist') as e:
        _load_checkpoint(path, map_location='cpu')
    assert 'evil.pth' in str(e.value)
    assert UNPICKLED == []


@pytest.mark.parametrize('keep', [0.5, 0.1])
def test_truncated_checkpoint_is_reported(tmp_path, keep):
    path = str(tmp_path / 'cut.pth')
    torch.save(dict(state_dict={'w': torch.randn(1000)}), path)
    size = os.path.getsize(path)
    with open(path, 'r+b') as f:
        f.truncate(int(size * keep))
    with pytest.raises(CheckpointError, match='corrupt or truncated'):
        safe_torch_load(path)


def test_garbage_and_missing_files(tmp_path):
    path = str(tmp_path / 'garbage.pth')
    with open(path, 'wb') as f:
        f.write(b'not a checkpoint at all')
    with pytest.raises(CheckpointError, match='garbage.pth'):
        safe_torch_load(path)
    with pytest.raises(FileNotFoundError, match='can not be found'):
        safe_torch_load(str(tmp_path / 'nope.pth'))
