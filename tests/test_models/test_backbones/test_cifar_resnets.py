import pytest
import torch

from mmmix.models import PreActResNet, WideResNet
from mmmix.registry import MODELS


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def preact_reference_count(blocks=(2, 2, 2, 2), c_in=3, base=64):
    total = c_in * base * 9 + 2 * base  # stem conv (no bias) + BN
    ch = base
    widths = (base, 2 * base, 4 * base, 8 * base)
    for stage, (n, w) in enumerate(zip(blocks, widths)):
        for b in range(n):
            stride = 2 if stage and b == 0 else 1
            total += 2 * ch + ch * w * 9 + 2 * w + w * w * 9
            if stride != 1 or ch != w:
                total += ch * w  # 1x1 projection, no bias
            ch = w
    return total


def wrn_reference_count(depth=16, k=8, c_in=3):
    total = c_in * 16 * 9 + 16
    ch, n = 16, (depth - 4) // 6
    for stage, w in enumerate((16 * k, 32 * k, 64 * k)):
        for b in range(n):
            stride = 2 if stage and b == 0 else 1
            total += 2 * ch + ch * w * 9 + w + 2 * w + w * w * 9 + w
            if stride != 1 or ch != w:
                total += ch * w + w
            ch = w
    return total + 2 * ch  # final BN


def test_parameter_counts_match_the_architecture():
    assert n_params(PreActResNet(18)) == preact_reference_count()
    assert n_params(PreActResNet(34)) == preact_reference_count((3, 4, 6, 3))
    assert n_params(PreActResNet(18, in_channels=1, base_channels=16)) == \
        preact_reference_count(c_in=1, base=16)
    assert n_params(WideResNet(16, 8)) == wrn_reference_count()
    assert n_params(WideResNet(28, 10)) == wrn_reference_count(28, 10)
    # the published sizes: WRN-16-8 ~11.0M, PreActResNet-18 ~11.2M
    assert abs(n_params(WideResNet(16, 8)) / 1e6 - 11.0) < 0.05
    assert abs(n_params(PreActResNet(18)) / 1e6 - 11.17) < 0.01


@pytest.mark.parametrize('size, preact_hw, wrn_hw', [(32, 4, 8), (64, 8, 16)])
def test_output_shapes(size, preact_hw, wrn_hw):
    x = torch.randn(2, 3, size, size)
    net = PreActResNet(18, out_indices=(0, 1, 2, 3))
    net.eval()  # BaseBackbone.train() returns None: no chaining
    outs = net(x)
    assert [o.shape[1:] for o in outs] == [
        (64, size, size), (128, size // 2, size // 2),
        (256, size // 4, size // 4), (512, preact_hw, preact_hw)]
    wrn = WideResNet(16, 8, out_indices=(0, 1, 2))
    wrn.eval()
    outs = wrn(x)
    assert outs[-1].shape == (2, 512, wrn_hw, wrn_hw)
    assert (outs[-1] >= 0).all()  # after the final BN-ReLU


def test_build_from_config_and_stage_hooks_in_order():
    net = MODELS.build(dict(type='PreActResNet', depth=18, in_channels=1))
    seen = []
    for name in net.layers:
        getattr(net, name).register_forward_hook(
            lambda m, i, o, name=name: seen.append(name))
    out = net(torch.randn(1, 1, 28, 28))
    assert seen == ['layer1', 'layer2', 'layer3', 'layer4']
    assert len(out) == 1 and out[0].shape == (1, 512, 4, 4)
    wrn = MODELS.build(dict(type='WideResNet', depth=16, widen_factor=2))
    assert wrn.layers == ['layer1', 'layer2', 'layer3']


def test_preact_shortcut_takes_the_preactivated_input():
    block = PreActResNet(18).layer1[0]  # identity shortcut
    block.eval()
    x = torch.randn(1, 64, 8, 8)
    o = torch.relu(block.bn1(x))
    inner = block.conv2(torch.relu(block.bn2(block.conv1(o))))
    torch.testing.assert_close(block(x), inner + o)


def test_bad_arguments():
    with pytest.raises(KeyError, match='depth'):
        PreActResNet(20)
    with pytest.raises(ValueError, match='out_indices'):
        PreActResNet(18, out_indices=(4, ))
    with pytest.raises(ValueError, match='base_channels'):
        PreActResNet(18, base_channels=0)
    with pytest.raises(ValueError, match='6n'):
        WideResNet(15)
