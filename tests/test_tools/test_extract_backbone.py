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
