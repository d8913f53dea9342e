import pytest
import torch
from mmpretrain.models import ResNet_CIFAR

from tests.test_tools.test_train_args import load_tool


def test_extracted_backbone_loads_into_a_fresh_backbone(tmp_path):
    tool = load_tool('model_converters/extract_backbone.py')
    net = ResNet_CIFAR(depth=18, in_channels=1, stem_channels=4,
                       base_channels=4)
    state = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    state['neck.fc.weight'] = torch.ones(2, 2)
    src, out = str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=3)), src)
    tool.main([src, out])
    result = torch.load(out)
    assert result['meta']['epoch'] == 3
    fresh = ResNet_CIFAR(depth=18, in_channels=1, stem_channels=4,
                         base_channels=4)
    fresh.load_state_dict(result['state_dict'])  # strict: names match
    for k, v in net.state_dict().items():
        assert torch.equal(fresh.state_dict()[k], v)
    with pytest.raises(KeyError, match="no weights start with 'head.'"):
        tool.extract_backbone(dict(state_dict=state), 'head.')
