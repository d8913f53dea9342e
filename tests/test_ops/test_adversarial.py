import pytest
import torch
import torch.nn.functional as F
from torch import nn

from mmmix.ops import fgsm, pgd


def linear_problem(n=16, dim=12, num_classes=5, seed=0,
                   dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(dim, num_classes).to(dtype)
    with torch.no_grad():
        model.weight.copy_(torch.randn(num_classes, dim, generator=g))
        model.bias.copy_(torch.randn(num_classes, generator=g))
    # pixels away from 0 and 1 (no clipping) except for two samples
    x = (0.2 + 0.6 * torch.rand(n, dim, generator=g)).to(dtype)
    x[0] = 0.
    x[1] = 1.
    labels = torch.randint(num_classes, (n, ), generator=g)
    return model, x, labels


def mlp_problem(seed=0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 32), nn.Tanh(), nn.Linear(32, 4))
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(64, 20, generator=g)
    labels = torch.randint(4, (64, ), generator=g)
    return model, x, labels


def per_sample_loss(model, x, labels):
    with torch.no_grad():
        return F.cross_entropy(model(x), labels, reduction='none')


def test_zero_eps_reproduces_the_clean_predictions():
    model, x, labels = mlp_problem()
    clean = model(x).argmax(1)
    for x_adv in (fgsm(model, x, labels, 0.),
                  pgd(model, x, labels, 0., 1 / 255, steps=3),
                  pgd(model, x, labels, 0, 1 / 255, random_start=False)):
        assert torch.equal(x_adv, x)
        assert torch.equal(model(x_adv).argmax(1), clean)


@pytest.mark.parametrize('eps', [1 / 255, 8 / 255, 0.3])
def test_perturbation_stays_in_the_ball_and_in_unit_range(eps):
    model, x, labels = linear_problem()
    g = torch.Generator().manual_seed(1)
    for x_adv in (fgsm(model, x, labels, eps),
                  pgd(model, x, labels, eps, eps / 3, steps=5, generator=g),
                  pgd(model, x, labels, eps, 2 * eps, steps=3,
                      random_start=False)):
        assert not x_adv.requires_grad
        assert x_adv.shape == x.shape and x_adv.dtype == x.dtype
        assert (x_adv - x).abs().max() <= eps + 1e-7
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_fgsm_on_a_linear_model_matches_the_hand_computed_step():
    model, x, labels = linear_problem()
    eps = 8 / 255
    x_adv = fgsm(model, x, labels, eps)
    # d CE / d x = W^T (softmax(Wx + b) - onehot(y)), per sample
    with torch.no_grad():
        probs = torch.softmax(model(x), dim=1)
        residual = probs - F.one_hot(labels, probs.shape[1]).float()
        grad = residual @ model.weight
    expected = (x + eps * grad.sign()).clamp(0, 1)
    assert torch.allclose(x_adv, expected, atol=1e-7, rtol=0)
    # CE of an affine model is convex in x: a step along the gradient sign
    # raises every sample's loss (the clipped samples' too)
    before = per_sample_loss(model, x, labels)
    after = per_sample_loss(model, x_adv, labels)
    assert (after > before).all()


def test_pgd_with_one_step_from_x_equals_fgsm():
    model, x, labels = mlp_problem()
    for eps in (2 / 255, 8 / 255):
        assert torch.equal(
            pgd(model, x, labels, eps, step_size=eps, steps=1,
                random_start=False), fgsm(model, x, labels, eps))


def test_pgd_finds_a_higher_loss_than_fgsm():
    model, x, labels = mlp_problem()
    eps = 0.1
    loss_clean = per_sample_loss(model, x, labels).sum()
    loss_fgsm = per_sample_loss(model, fgsm(model, x, labels, eps),
                                labels).sum()
    loss_pgd = per_sample_loss(
        model, pgd(model, x, labels, eps, eps / 4, steps=10,
                   random_start=False), labels).sum()
    assert loss_clean < loss_fgsm <= loss_pgd


def test_random_start_is_reproducible_with_a_generator():
    model, x, labels = mlp_problem()

    def run(seed):
        return pgd(model, x, labels, 8 / 255, 2 / 255, steps=2,
                   generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    assert not torch.equal(
        run(0), pgd(model, x, labels, 8 / 255, 2 / 255, steps=2,
                    random_start=False))


def test_model_parameters_get_no_grad_and_mode_is_kept():
    model, x, labels = mlp_problem()
    model.eval()
    fgsm(model, x, labels, 8 / 255)
    pgd(model, x, labels, 4 / 255, 2 / 255, steps=2)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    # works under no_grad too (the attack enables gradients itself)
    with torch.no_grad():
        x_adv = fgsm(model, x, labels, 8 / 255)
    assert not torch.equal(x_adv, x)


def test_float64_inputs_keep_their_dtype():
    model, x, labels = linear_problem(dtype=torch.float64)
    for x_adv in (fgsm(model, x, labels, 8 / 255),
                  pgd(model, x, labels, 4 / 255, 2 / 255, steps=2,
                      generator=torch.Generator().manual_seed(0))):
        assert x_adv.dtype == torch.float64
        assert (x_adv - x).abs().max() <= 8 / 255 + 1e-12


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(eps=-0.1), ValueError, 'eps must be finite and >= 0'),
    (dict(eps=float('nan')), ValueError, 'eps must be'),
    (dict(eps='8/255'), TypeError, 'eps must be a real number'),
    (dict(step_size=0.), ValueError, 'step_size must be finite and > 0'),
    (dict(steps=0), ValueError, 'steps must be an integer >= 1'),
    (dict(steps=2.5), ValueError, 'steps must be an integer >= 1'),
    (dict(x_scale=255.), ValueError, r'x must lie in \[0, 1\]'),
    (dict(labels_shape=(3, )), ValueError, 'labels must be'),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    model, x, labels = mlp_problem()
    x = x * kwargs.pop('x_scale', 1.)
    if 'labels_shape' in kwargs:
        labels = torch.zeros(kwargs.pop('labels_shape'), dtype=torch.long)
    args = dict(eps=4 / 255, step_size=1 / 255, steps=2)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        pgd(model, x, labels, **args)
    if set(kwargs) <= {'eps'}:
        with pytest.raises(error, match=match):
            fgsm(model, x, labels, args['eps'])


def test_forward_fn_must_return_logits():
    _, x, labels = mlp_problem()
    with pytest.raises(ValueError, match=r'\(N, K\) logits'):
        fgsm(lambda t: t.sum(), x, labels, 0.1)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a GPU')
def test_cuda_inputs_with_a_cpu_generator():
    model, x, labels = mlp_problem()
    model, x, labels = model.cuda(), x.cuda(), labels.cuda()
    x_adv = pgd(model, x, labels, 4 / 255, 2 / 255, steps=2,
                generator=torch.Generator().manual_seed(0))
    assert x_adv.is_cuda and (x_adv - x).abs().max() <= 4 / 255 + 1e-7
