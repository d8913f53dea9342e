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


def test_dora_teacher_loads_into_deit_small_with_strict_keys(tmp_path):
    """The DoRA / DINO teacher (ViT-S/16) exported with --teacher loads
    into mmpretrain's VisionTransformer(arch='deit-small') with strict keys,
    directly and through init_cfg=Pretrained."""
    from mmengine.logging import MessageHub
    from mmengine.registry import DefaultScope
    from mmpretrain.models import VisionTransformer

    from mmmix.registry import MODELS
    MessageHub.get_current_instance().update_info('max_iters', 10)
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = MODELS.build(dict(
            type='DoRA',
            backbone=dict(type='mmpretrain.VisionTransformer',
                          arch='deit-small', img_size=224, patch_size=16,
                          drop_path_rate=0.1, out_type='raw'),
            head=dict(type='DINOHead', in_channels=384, out_channels=16,
                      hidden_channels=16, bottleneck_channels=8),
            loss=dict(type='DINOLoss', out_channels=16)))
    with torch.no_grad():  # a teacher that differs from the student
        for p in model.target_net.parameters():
            p.add_(0.5)
    tool = load_tool('model_converters/extract_backbone.py')
    src, out = str(tmp_path / 'dora.pth'), str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict(epoch=1)), src)
    tool.main([src, out, '--teacher'])
    exported = torch.load(out)['state_dict']
    vit = VisionTransformer(arch='deit-small', img_size=224, patch_size=16)
    missing, unexpected = vit.load_state_dict(exported, strict=True)
    assert not missing and not unexpected
    teacher = model.target_net.module[0].state_dict()
    for k, v in vit.state_dict().items():
        assert torch.equal(v, teacher[k]), k
    vit2 = VisionTransformer(
        arch='deit-small', img_size=224, patch_size=16,
        init_cfg=dict(type='Pretrained', checkpoint=out))
    vit2.init_weights()
    assert torch.equal(vit2.pos_embed, teacher['pos_embed'])
    assert torch.equal(vit2.layers[11].attn.qkv.weight,
                       teacher['layers.11.attn.qkv.weight'])
    # arch='small' is not ViT-S in mmpretrain (768-d): strict loading fails
    with pytest.raises(RuntimeError, match='size mismatch'):
        VisionTransformer(arch='small', img_size=224,
                          patch_size=16).load_state_dict(exported)


def _moco_like_checkpoint(tmp_path):
    """A MoCo v2-like checkpoint: online ResNet-50 under ``backbone.``, the
    momentum encoder (different weights) under ``target_net.module.0.``,
    plus neck / head / queue entries that must not be exported."""
    from mmpretrain.models import ResNet
    online, momentum = ResNet(depth=50), ResNet(depth=50)
    with torch.no_grad():
        for p in momentum.parameters():
            p.add_(0.5)
        momentum.bn1.running_mean.fill_(0.25)
    state = {f'backbone.{k}': v for k, v in online.state_dict().items()}
    state.update({f'target_net.module.0.{k}': v
                  for k, v in momentum.state_dict().items()})
    state.update({'neck.mlp.0.weight': torch.ones(4, 2048),
                  'target_net.module.1.mlp.0.weight': torch.ones(4, 2048),
                  'head.queue': torch.zeros(4, 8)})
    src = str(tmp_path / 'moco.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=200)), src)
    return src, online.state_dict(), momentum.state_dict()


@pytest.mark.parametrize('to', ['mmdet', 'mmseg', 'mmpretrain'])
def test_resnet50_online_and_momentum_load_with_strict_keys(tmp_path, to):
    """Both encoders of a MoCo-like checkpoint load, strict, into a fresh
    mmpretrain ResNet(depth=50). mmdet's ResNet (mmdet/models/backbones/
    resnet.py: conv1, bn1 = norm1_name, layer{i}, blocks conv1-3/bn1-3,
    downsample.0/1 from ResLayer) and mmseg's ResNet use the same names, so
    this key set is the one they load."""
    from mmpretrain.models import ResNet
    tool = load_tool('model_converters/extract_backbone.py')
    src, online, momentum = _moco_like_checkpoint(tmp_path)
    for flag, expected in (('--online', online), ('--teacher', momentum)):
        out = str(tmp_path / f'{flag[2:]}.pth')
        tool.main([src, out, flag, '--arch', 'resnet', '--to', to])
        result = torch.load(out)
        assert result['meta'] == dict(epoch=200, layout=to, source_prefix=(
            'backbone.' if flag == '--online' else 'target_net.module.0.'))
        fresh = ResNet(depth=50)
        missing, unexpected = fresh.load_state_dict(result['state_dict'],
                                                    strict=True)
        assert not missing and not unexpected
        assert set(result['state_dict']) == set(expected)
        for k, v in fresh.state_dict().items():
            assert torch.equal(v, expected[k]), (flag, k)
    assert 'layer1.0.downsample.0.weight' in result['state_dict']
    assert not torch.equal(online['conv1.weight'], momentum['conv1.weight'])


def _mmseg_vit_small():
    """The module tree of mmseg 1.x's VisionTransformer for ViT-S/16 with
    ``patch_bias=True`` (mmseg's default is no patch-embedding bias;
    tests/test_configs_transfer.py loads into the real class)
    (mmseg/models/backbones/vit.py: PatchEmbed.projection, cls_token,
    pos_embed, layers[i] = TransformerEncoderLayer with ln1 / ln2 from
    build_norm_layer(postfix=1/2), attn = mmcv MultiheadAttention(
    batch_first=True, bias=qkv_bias), ffn = mmcv FFN; final_norm -> ln1)."""
    from mmcv.cnn import build_norm_layer
    from mmcv.cnn.bricks.transformer import FFN, MultiheadAttention, PatchEmbed
    from torch import nn

    class Layer(nn.Module):

        def __init__(self, dims=384, heads=6):
            super().__init__()
            self.norm1_name, norm1 = build_norm_layer(dict(type='LN'), dims,
                                                      postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.attn = MultiheadAttention(dims, heads, batch_first=True,
                                           bias=True)
            self.norm2_name, norm2 = build_norm_layer(dict(type='LN'), dims,
                                                      postfix=2)
            self.add_module(self.norm2_name, norm2)
            self.ffn = FFN(embed_dims=dims, feedforward_channels=4 * dims,
                           num_fcs=2, act_cfg=dict(type='GELU'))

        def forward(self, x):
            x = self.attn(getattr(self, self.norm1_name)(x), identity=x)
            return self.ffn(getattr(self, self.norm2_name)(x), identity=x)

    class ViT(nn.Module):

        def __init__(self, dims=384):
            super().__init__()
            self.patch_embed = PatchEmbed(3, dims, kernel_size=16,
                                          stride=16)
            self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
            self.pos_embed = nn.Parameter(torch.zeros(1, 197, dims))
            self.layers = nn.ModuleList(Layer() for _ in range(12))
            self.norm1_name, norm1 = build_norm_layer(dict(type='LN'), dims,
                                                      postfix=1)
            self.add_module(self.norm1_name, norm1)

    return ViT()


def test_vit_small_teacher_to_mmseg_layout(tmp_path):
    """A DINO / DoRA-like ViT-S teacher exported --to mmseg loads, strict,
    into the mmseg ViT-S module tree, and a transformer layer computes the
    same function under both layouts (so q, k, v and the heads keep their
    order in in_proj_weight)."""
    from mmpretrain.models import VisionTransformer
    tool = load_tool('model_converters/extract_backbone.py')
    torch.manual_seed(0)
    vit = VisionTransformer(arch='deit-small', img_size=224,
                            patch_size=16)
    vit.eval()  # its train() returns None
    with torch.no_grad():
        for p in vit.parameters():  # no zero biases / unit norms left
            p.copy_(torch.randn_like(p) * 0.2)
    state = {f'target_net.module.0.{k}': v
             for k, v in vit.state_dict().items()}
    state['target_net.module.1.last_layer.weight'] = torch.ones(2, 2)
    state['backbone.cls_token'] = torch.zeros(1, 1, 384)
    src, out = str(tmp_path / 'dino.pth'), str(tmp_path / 'mmseg.pth')
    torch.save(dict(state_dict=state), src)
    tool.main([src, out, '--teacher', '--arch', 'vit', '--to', 'mmseg'])
    exported = torch.load(out)['state_dict']
    assert torch.equal(exported['layers.3.attn.attn.in_proj_weight'],
                       vit.layers[3].attn.qkv.weight)
    assert torch.equal(exported['layers.3.attn.attn.in_proj_bias'],
                       vit.layers[3].attn.qkv.bias)
    assert torch.equal(exported['layers.3.attn.attn.out_proj.weight'],
                       vit.layers[3].attn.proj.weight)
    assert not any('attn.qkv' in k or 'attn.proj' in k for k in exported)
    seg = _mmseg_vit_small()
    seg.eval()
    expected = {k: tuple(v.shape) for k, v in seg.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in exported.items()} == expected
    missing, unexpected = seg.load_state_dict(exported, strict=True)
    assert not missing and not unexpected
    x = torch.randn(2, 197, 384)
    with torch.no_grad():
        ref = vit.layers[0](x)  # outputs of magnitude ~5
        assert torch.allclose(seg.layers[0](x), ref, atol=1e-3)
        # control: k, q, v order instead of q, k, v computes something else
        q, k, v = vit.layers[0].attn.qkv.weight.chunk(3)
        seg.layers[0].attn.attn.in_proj_weight.copy_(torch.cat([k, q, v]))
        assert not torch.allclose(seg.layers[0](x), ref, atol=1e-1)


def test_bad_input_names_what_was_expected_and_found(tmp_path):
    from mmpretrain.models import ResNet_CIFAR
    tool = load_tool('model_converters/extract_backbone.py')
    net = ResNet_CIFAR(depth=18, stem_channels=4, base_channels=4)
    state = {f'backbone.{k}': v for k, v in net.state_dict().items()}
    state['head.fc.weight'] = torch.ones(2, 2)
    src, out = str(tmp_path / 'in.pth'), str(tmp_path / 'out.pth')
    torch.save(dict(state_dict=state), src)
    with pytest.raises(ValueError, match=r'expected a VisionTransformer '
                       r'\(patch_embed.projection.weight.*found a ResNet '
                       r'\(conv1.weight, layer1'):
        tool.main([src, out, '--arch', 'vit'])
    with pytest.raises(KeyError, match=r"'nothing\.'.*\['backbone', "
                       r"'head'\]"):
        tool.main([src, out, '--prefix', 'nothing.'])
    # ResNet_CIFAR's 3x3 stem does not fit mmdet's / mmseg's 7x7 conv1
    with pytest.raises(ValueError, match='not 7x7'):
        tool.main([src, out, '--arch', 'resnet', '--to', 'mmdet'])
    with pytest.raises(ValueError, match='no mmdet layout'):
        tool.extract_backbone(
            {'backbone.patch_embed.projection.weight': torch.ones(1),
             'backbone.pos_embed': torch.ones(1),
             'backbone.layers.0.attn.qkv.weight': torch.ones(1)},
            to='mmdet')
    with pytest.raises(ValueError, match='needs a ResNet or a Vision'):
        tool.extract_backbone({'backbone.fc.weight': torch.ones(1)},
                              to='mmseg')
    tool.main([src, out, '--arch', 'resnet'])  # mmpretrain: CIFAR is fine
    assert set(torch.load(out)['state_dict']) == set(net.state_dict())


def test_teacher_of_mmpretrain_moco_is_its_momentum_encoder(tmp_path):
    """mmpretrain's MoCo (and the MoCo-based CLIM / InterCLR / A2 models)
    keep the momentum encoder in ``encoder_k``, not ``target_net``:
    ``--teacher`` finds it there; a SimSiam-like checkpoint with neither
    names what it has."""
    from mmpretrain.models import MoCo, ResNet
    tool = load_tool('model_converters/extract_backbone.py')
    torch.manual_seed(0)
    moco = MoCo(
        backbone=dict(type='ResNet', depth=18),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=8,
                  out_channels=4),
        head=dict(type='ContrastiveHead',
                  loss=dict(type='CrossEntropyLoss'), temperature=0.2),
        queue_len=8, feat_dim=4)
    with torch.no_grad():  # a key encoder that differs from the query one
        for p in moco.encoder_k.parameters():
            p.add_(0.5)
    src, out = str(tmp_path / 'moco.pth'), str(tmp_path / 'key.pth')
    torch.save(dict(state_dict=moco.state_dict()), src)
    tool.main([src, out, '--teacher', '--arch', 'resnet'])
    result = torch.load(out)
    assert result['meta']['source_prefix'] == 'encoder_k.module.0.'
    fresh = ResNet(depth=18)
    fresh.load_state_dict(result['state_dict'], strict=True)
    key_net = moco.encoder_k.module[0].state_dict()
    for k, v in fresh.state_dict().items():
        assert torch.equal(v, key_net[k]), k
    assert not torch.equal(fresh.conv1.weight, moco.backbone.conv1.weight)
    online = {f'backbone.{k}': v for k, v in
              moco.backbone.state_dict().items()}
    torch.save(dict(state_dict=online), src)
    with pytest.raises(KeyError, match=r"encoder_k\.module\.0\..*"
                       r"\['backbone'\].*--online"):
        tool.main([src, out, '--teacher'])
