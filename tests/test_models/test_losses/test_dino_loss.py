"""DINOLoss (spec U2): the centre update 0.9 c + 0.1 mean(raw teacher rows)
(single process: mmengine.dist is a no-op), the centre is a persistent
buffer, stop-gradient on the teacher, the teacher temperature from the
MessageHub epoch, centred / sharpened teacher probabilities and the loss by
hand, argument checks. The pure maths (pair weights, cross-entropy, the
temperature schedule) is tested in tests/test_ops/test_dino.py."""
import pytest
import torch
from mmengine.logging import MessageHub

from mmmix.models.losses import DINOLoss
from mmmix.ops.dino import multicrop_pair_weights
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

K = 6


def _logits(v, r, seed=0, scale=1.):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(v, r, K, generator=g) * scale


def _hand_loss(t, s, c, tau_t, tau_s):
    """DINO's loop: teacher view u with every student view v != u."""
    q = torch.softmax((t - c) / tau_t, -1)
    total, n = 0., 0
    for u in range(t.shape[0]):
        for v in range(s.shape[0]):
            if u == v:
                continue
            ls = torch.log_softmax(s[v] / tau_s, -1)
            total = total + (-(q[u] * ls).sum(-1)).mean()
            n += 1
    return total / n


def test_registered_and_defaults():
    loss = MODELS.build(dict(type='DINOLoss', out_channels=K))
    assert isinstance(loss, DINOLoss)
    assert loss.center.shape == (1, K) and torch.all(loss.center == 0)
    assert (loss.student_temp, loss.teacher_temp, loss.center_momentum) == (
        0.1, 0.04, 0.9)


def test_center_update_is_ema_of_raw_teacher_mean():
    loss = DINOLoss(K, center_momentum=0.9)
    c0 = torch.randn(1, K)
    loss.center.copy_(c0)
    t = _logits(2, 5, seed=1, scale=3.)  # 2 views x 5 rows
    s = _logits(4, 5, seed=2)
    loss(t, s, multicrop_pair_weights(2, 4), epoch=0)
    expect = 0.9 * c0 + 0.1 * t.reshape(-1, K).mean(0, keepdim=True)
    torch.testing.assert_close(loss.center, expect, rtol=1e-6, atol=1e-7)
    # the raw logits, not the centred / sharpened ones: a second update
    # from the same logits moves on from the new centre
    c1 = loss.center.clone()
    loss.update_center(t)
    torch.testing.assert_close(
        loss.center, 0.9 * c1 + 0.1 * t.reshape(-1, K).mean(0, keepdim=True),
        rtol=1e-6, atol=1e-7)


def test_center_uses_all_rows_of_all_views():
    # (views, frames * batch) rows: every one counts equally
    loss = DINOLoss(K, center_momentum=0.5)
    t = torch.zeros(3, 4, K)
    t[2, 3] = 12.  # a single row of twelve rows
    loss.update_center(t)
    torch.testing.assert_close(loss.center, torch.full((1, K), 0.5))


def test_update_center_false_leaves_it():
    loss = DINOLoss(K)
    loss.center.copy_(torch.arange(K, dtype=torch.float)[None])
    before = loss.center.clone()
    out = loss(_logits(2, 3), _logits(3, 3, seed=1),
               multicrop_pair_weights(2, 3), epoch=0, update_center=False)
    assert torch.isfinite(out)
    assert torch.equal(loss.center, before)


def test_center_is_persistent_and_loads_back():
    loss = DINOLoss(K)
    loss.update_center(_logits(2, 4, scale=5.))
    state = loss.state_dict()
    assert list(state) == ['center']
    assert torch.equal(state['center'], loss.center)
    fresh = DINOLoss(K)
    assert not torch.equal(fresh.center, loss.center)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.center, loss.center)
    assert fresh.center is not loss.center


def test_no_gradient_reaches_the_teacher():
    loss = DINOLoss(K)
    t = _logits(2, 4).requires_grad_()
    s = _logits(5, 4, seed=1).requires_grad_()
    out = loss(t, s, multicrop_pair_weights(2, 5), epoch=0)
    assert out.requires_grad
    out.backward()
    assert t.grad is None
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert not loss.center.requires_grad


def test_centred_sharpened_teacher_probs_and_loss_by_hand():
    loss = DINOLoss(K, student_temp=0.2, teacher_temp=0.07,
                    warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=10)
    c = torch.linspace(-1., 1., K)[None]
    loss.center.copy_(c)
    t, s = _logits(2, 3, scale=2.), _logits(4, 3, seed=1, scale=2.)
    tau = 0.04 + 0.03 * 4 / 9  # linspace(0.04, 0.07, 10)[4]
    out, probs = loss(t, s, multicrop_pair_weights(2, 4), epoch=4,
                      update_center=False, return_probs=True)
    # softmax((z - c) / tau) written out
    e = torch.exp((t - c) / tau - ((t - c) / tau).amax(-1, keepdim=True))
    torch.testing.assert_close(probs, e / e.sum(-1, keepdim=True))
    torch.testing.assert_close(probs.sum(-1), torch.ones(2, 3))
    torch.testing.assert_close(out, _hand_loss(t, s, c, tau, 0.2))
    # without centring the teacher probabilities differ
    plain = torch.softmax(t / tau, -1)
    assert not torch.allclose(probs, plain)
    # the centre that is subtracted is the one before this call's update
    loss2 = DINOLoss(K, student_temp=0.2, teacher_temp=0.07,
                     warmup_teacher_temp=0.04, warmup_teacher_temp_epochs=10)
    loss2.center.copy_(c)
    out2 = loss2(t, s, multicrop_pair_weights(2, 4), epoch=4)
    torch.testing.assert_close(out2, out)
    assert not torch.equal(loss2.center, c)


def test_teacher_temperature_from_message_hub(hub_epoch):
    loss = DINOLoss(K, teacher_temp=0.07, warmup_teacher_temp=0.04,
                    warmup_teacher_temp_epochs=30)
    t, s = _logits(2, 3, scale=2.), _logits(3, 3, seed=1)
    w = multicrop_pair_weights(2, 3)
    for epoch, tau in ((0, 0.04), (15, 0.04 + 0.03 * 15 / 29),
                       (29, 0.07), (30, 0.07), (99, 0.07)):
        hub_epoch(epoch)
        assert loss.current_teacher_temp() == pytest.approx(tau)
        out, probs = loss(t, s, w, update_center=False, return_probs=True)
        torch.testing.assert_close(probs, torch.softmax(t / tau, -1))
        torch.testing.assert_close(out, _hand_loss(t, s, 0., tau, 0.1))
    # an explicit epoch wins over the hub's
    hub_epoch(0)
    assert loss.current_teacher_temp(epoch=30) == pytest.approx(0.07)
    torch.testing.assert_close(loss.teacher_probs(t, epoch=30),
                               torch.softmax(t / 0.07, -1))


def test_epoch_defaults_to_zero_without_runner(hub_epoch):
    hub = MessageHub.get_current_instance()
    hub._runtime_info.pop('epoch', None)  # the fixture restores it
    loss = DINOLoss(K, teacher_temp=0.07, warmup_teacher_temp=0.04,
                    warmup_teacher_temp_epochs=30)
    assert loss.current_teacher_temp() == pytest.approx(0.04)


def test_low_precision_logits_keep_a_float32_center():
    loss = DINOLoss(K)
    t = _logits(2, 3).to(torch.bfloat16)
    s = _logits(3, 3, seed=1).to(torch.bfloat16).requires_grad_()
    out = loss(t, s, multicrop_pair_weights(2, 3), epoch=0)
    assert out.dtype == torch.float32 and torch.isfinite(out)
    out.backward()
    assert s.grad is not None
    assert loss.center.dtype == torch.float32
    torch.testing.assert_close(
        loss.center, 0.1 * t.float().reshape(-1, K).mean(0, keepdim=True))


def test_channel_mismatch():
    loss = DINOLoss(K)
    with pytest.raises(ValueError, match='out_channels'):
        loss(torch.randn(2, 3, K + 1), torch.randn(3, 3, K + 1),
             multicrop_pair_weights(2, 3), epoch=0)
    # the student's K must match the teacher's
    with pytest.raises(ValueError, match='shape mismatch'):
        loss(torch.randn(2, 3, K), torch.randn(3, 3, K + 1),
             multicrop_pair_weights(2, 3), epoch=0, update_center=False)


@pytest.mark.parametrize('field,value', [
    ('student_temp', 0.), ('teacher_temp', -0.04),
    ('warmup_teacher_temp', 0.), ('center_momentum', 1.),
    ('center_momentum', -0.1), ('warmup_teacher_temp_epochs', -1)])
def test_bad_arguments(field, value):
    with pytest.raises(ValueError, match=field):
        DINOLoss(K, **{field: value})
