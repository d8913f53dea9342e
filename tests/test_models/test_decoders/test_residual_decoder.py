import pytest
import torch

from mmmix.models import ResidualDecoder
from mmmix.models.decoders.residual_decoder import decoder_layout
from mmmix.registry import MODELS


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def reference_count(in_dim, out_channels, widths, s0):
    """Parameters of the documented layer list."""
    total = in_dim * widths[0] * s0 * s0 + widths[0] * s0 * s0  # linear
    for c_in, c_out in zip(widths[:-1], widths[1:]):
        total += 2 * c_in + c_in * c_out * 9  # BN, conv3x3 (no bias)
        total += 2 * c_out + c_out * c_out * 9 + c_out  # BN, conv3x3
        total += c_in * c_out  # shortcut conv1x1 (no bias)
    return total + 2 * widths[-1] + widths[-1] * out_channels * 9 + \
        out_channels  # BN, conv3x3


@pytest.mark.parametrize('out_size, layout', [(28, (7, 2)), (32, (4, 3)),
                                              (64, (4, 4)), (224, (7, 5)),
                                              (10, (5, 1)), (36, (9, 2))])
def test_layout(out_size, layout):
    assert decoder_layout(out_size) == layout


@pytest.mark.parametrize('out_size', [28, 32, 64])
@pytest.mark.parametrize('out_channels', [1, 3])
def test_output_shape(out_size, out_channels):
    dec = ResidualDecoder(16, out_channels, out_size, base_channels=16,
                          min_channels=4)
    out = dec(torch.randn(2, 16))
    assert out.shape == (2, out_channels, out_size, out_size)
    assert torch.isfinite(out).all()


def test_default_widths_and_parameter_count():
    dec = ResidualDecoder(512)  # 32x32x3, 256 channels at 4x4
    assert (dec.init_size, dec.num_blocks) == (4, 3)
    widths = [256, 128, 64, 32]
    assert [b.shortcut[1].out_channels for b in dec.blocks] == widths[1:]
    assert n_params(dec) == reference_count(512, 3, widths, 4)
    # 224x224: the width halves down to min_channels, then stays there
    dec = ResidualDecoder(8, out_size=224, base_channels=64, min_channels=16)
    widths = [64, 32, 16, 16, 16, 16]
    assert [b.shortcut[1].out_channels for b in dec.blocks] == widths[1:]
    assert n_params(dec) == reference_count(8, 3, widths, 7)
    # base_channels below min_channels: constant width
    dec = ResidualDecoder(8, out_size=28, base_channels=8)
    assert n_params(dec) == reference_count(8, 3, [8, 8, 8], 7)


def test_gradient_reaches_all_parameters_and_the_input():
    torch.manual_seed(0)
    dec = ResidualDecoder(16, 3, 32, base_channels=16, min_channels=4)
    x = torch.randn(4, 16, requires_grad=True)
    target = torch.randn(4, 3, 32, 32)
    loss = (dec(x) - target).square().mean()  # L_r
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in dec.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name


def test_tanh_bounds_and_default_unbounded():
    torch.manual_seed(0)
    x = 50 * torch.randn(8, 16)
    dec = ResidualDecoder(16, 1, 28, base_channels=8, out_act='tanh')
    out = dec(x)
    assert out.abs().max() <= 1 and out.abs().max() > 0.5
    plain = ResidualDecoder(16, 1, 28, base_channels=8)
    plain.load_state_dict(dec.state_dict())
    torch.testing.assert_close(torch.tanh(plain(x)), out)
    assert plain(x).abs().max() > 1


def test_build_from_registry():
    dec = MODELS.build(
        dict(type='mmmix.ResidualDecoder', in_dim=16, out_channels=1,
             out_size=28, base_channels=8))
    assert isinstance(dec, ResidualDecoder)
    assert dec(torch.randn(1, 16)).shape == (1, 1, 28, 28)


@pytest.mark.parametrize('out_size', [7, 6, 2, 0, -32, 32.0, 2 * 17, 202])
def test_unreachable_out_size(out_size):
    with pytest.raises(ValueError, match='out_size'):
        ResidualDecoder(16, out_size=out_size)


@pytest.mark.parametrize('kwargs, match', [
    (dict(in_dim=0), 'in_dim'),
    (dict(in_dim=16, out_channels=0), 'out_channels'),
    (dict(in_dim=16, base_channels=2.5), 'base_channels'),
    (dict(in_dim=16, min_channels=0), 'min_channels'),
    (dict(in_dim=16, out_act='sigmoid'), 'out_act'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResidualDecoder(**kwargs)


def test_bad_input_shape():
    dec = ResidualDecoder(16, base_channels=8)
    with pytest.raises(ValueError, match=r'\(N, 16\)'):
        dec(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r'\(N, 16\)'):
        dec(torch.randn(2, 16, 1, 1))
