"""Tests for the spectral-mask conv (specreg_cli.spectral) and its transforms (specreg_cli.spectral_dft)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from specreg_cli.errors import SpecregError
from specreg_cli.spectral import (
    FINETUNE_INIT,
    SCRATCH_INIT,
    MaskConfig,
    SpectralMaskConv2d,
    apply_spectral_masks,
    clamp_spectral_masks_,
    is_masked,
    masked_fractions,
    radial_profile,
    reseed_mask_noise_,
    spectral_mask_parameters,
)
from specreg_cli.spectral_circulant import AUTO_MAX_PIXELS, circulant_index
from specreg_cli.spectral_dft import BACKENDS, irfft2_dft, resolve_backend, rfft2_dft, spectral_filter


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


class TinyNet(nn.Module):
    """Stem + strided conv to an odd-width (6, 5) map + conv: exercises odd W and a stride."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 3, padding=1, dtype=dtype)
        self.body = nn.Sequential(
            nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=False, dtype=dtype),
            nn.BatchNorm2d(6, dtype=dtype),
            nn.ReLU(),
            nn.Conv2d(6, 6, 3, padding=1, dtype=dtype),
        )
        self.head = nn.Linear(6, 3, dtype=dtype)

    def forward(self, x):
        return self.head(self.body(F.relu(self.stem(x))).mean((-2, -1)))


TINY_INPUT = (3, 12, 10)  # conv outputs: stem (12, 10), body (6, 5)


def tiny(dtype=torch.float32, seed=0, **cfg) -> TinyNet:
    torch.manual_seed(seed)  # the test's own model init; the library never touches the global RNG
    return apply_spectral_masks(TinyNet(dtype), MaskConfig(**cfg), TINY_INPUT, gen(seed))


def masked_layer(hw=(6, 7), dtype=torch.float64, seed=0, padding_mode="zeros", **cfg) -> SpectralMaskConv2d:
    g = gen(seed)
    conv = nn.Conv2d(3, 4, 3, padding=1, padding_mode=padding_mode, dtype=dtype)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=g, dtype=dtype))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=g, dtype=dtype))
    return SpectralMaskConv2d.from_conv(conv, hw, MaskConfig(**cfg), g)


def hermitian_weights(w: int) -> torch.Tensor:
    """Written independently of the library: weight of each rfft column in the full-spectrum sum."""
    weights = [1.0 if (k == 0 or 2 * k == w) else 2.0 for k in range(w // 2 + 1)]
    return torch.tensor(weights, dtype=torch.float64)


# ---------------------------------------------------------------- the filter


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_ones_mask_is_the_plain_conv(backend):
    layer = masked_layer(dtype=torch.float32, backend=backend)
    with torch.no_grad():
        layer.spectral_mask.fill_(1.0)
    x = torch.randn(2, 3, 6, 7, generator=gen(1))
    torch.testing.assert_close(layer(x), F.conv2d(x, layer.weight, layer.bias, padding=1), atol=1e-5, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_zero_mask_gives_zero_output(backend):
    layer = masked_layer(backend=backend)
    with torch.no_grad():
        layer.spectral_mask.fill_(0.3)  # below the 0.5 threshold everywhere
    out = layer(torch.randn(2, 3, 6, 7, generator=gen(1), dtype=torch.float64))
    assert out.abs().max().item() < 1e-12


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("hw", [(6, 7), (8, 6)])
def test_circular_conv_equals_frequency_domain_product(backend, hw):
    h, w = hw
    layer = masked_layer(hw, padding_mode="circular", backend=backend)
    with torch.no_grad():
        values = torch.rand(layer.spectral_mask.shape, generator=gen(2), dtype=torch.float64)
        layer.spectral_mask.copy_(values)
    x = torch.randn(2, 3, h, w, generator=gen(3), dtype=torch.float64)
    # conv2d is a cross-correlation: y[m, n] = sum_ab w[a, b] x[m + a - 1, n + b - 1], i.e. a circular
    # convolution with the kernel placed at (-(a - 1)) mod H, (-(b - 1)) mod W.
    grid = torch.zeros(4, 3, h, w, dtype=torch.float64)
    for a in range(3):
        for b in range(3):
            grid[:, :, (1 - a) % h, (1 - b) % w] = layer.weight.detach()[:, :, a, b]
    spec = torch.einsum("bihk,oihk->bohk", torch.fft.rfft2(x), torch.fft.rfft2(grid))  # (B, C, H, K)
    spec[:, :, 0, 0] += layer.bias.detach() * h * w  # a constant bias lives at DC only
    binary = (layer.spectral_mask.detach() >= 0.5).to(torch.float64)
    assert 0 < binary.mean() < 1  # a genuinely partial mask
    expected = torch.fft.irfft2(binary * spec, s=hw)
    torch.testing.assert_close(layer(x), expected, atol=1e-10, rtol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("per_channel", [True, False])
def test_mask_gradient_is_the_straight_through_gradient(backend, per_channel):
    h, w = 6, 7
    layer = masked_layer((h, w), backend=backend, per_channel=per_channel)
    x = torch.randn(3, 3, h, w, generator=gen(4), dtype=torch.float64)
    out = layer(x)
    grad_out = torch.randn(out.shape, generator=gen(5), dtype=torch.float64)
    (out * grad_out).sum().backward()
    # Analytic dL/dB for L = <G, out>: w_k / (H W) * sum_batch Re(rfft2(y) conj(rfft2(G))); straight-through
    # hands it to M unchanged.
    y = F.conv2d(x, layer.weight.detach(), layer.bias.detach(), padding=1)
    analytic = (torch.fft.rfft2(y) * torch.fft.rfft2(grad_out).conj()).real.sum(0)
    analytic = analytic * hermitian_weights(w) / (h * w)
    if not per_channel:
        analytic = analytic.sum(0, keepdim=True)
    torch.testing.assert_close(layer.spectral_mask.grad, analytic, atol=1e-10, rtol=0)
    # Same via autograd on a leaf binary mask through plain torch.fft ops.
    leaf = layer.binary_mask().requires_grad_()
    (torch.fft.irfft2(leaf * torch.fft.rfft2(y), s=(h, w)) * grad_out).sum().backward()
    torch.testing.assert_close(layer.spectral_mask.grad, leaf.grad, atol=1e-10, rtol=0)


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("hw", [(32, 32), (8, 8), (6, 5)])
def test_dft_transforms_equal_torch_fft(dtype, atol, hw):
    y = torch.randn(2, 3, *hw, generator=gen(6), dtype=dtype)
    # The spectrum grows like sqrt(H W): scale the tolerance.
    torch.testing.assert_close(rfft2_dft(y), torch.fft.rfft2(y), atol=atol * hw[0], rtol=0)
    # Arbitrary (non-Hermitian) half-spectra, read as irfft2 reads them.
    spec = torch.complex(
        torch.randn(2, 3, hw[0], hw[1] // 2 + 1, generator=gen(7), dtype=dtype),
        torch.randn(2, 3, hw[0], hw[1] // 2 + 1, generator=gen(8), dtype=dtype),
    )
    torch.testing.assert_close(irfft2_dft(spec, hw), torch.fft.irfft2(spec, s=hw), atol=atol, rtol=0)


@pytest.mark.parametrize("dtype,atol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "fft"])
def test_every_backend_equals_the_fft_reference_forward_and_backward(dtype, atol, backend):
    # TinyNet's maps are 12x10 (auto: fft) and 6x5 (auto: circulant), so "auto" mixes the two.
    x = torch.randn(2, 3, 12, 10, generator=gen(9), dtype=dtype)
    results = {}
    for name in ("fft", backend):
        model = tiny(dtype, backend=name).train()
        for layer in model.modules():  # partial masks, so the test sees the masking
            if isinstance(layer, SpectralMaskConv2d):
                with torch.no_grad():
                    values = torch.rand(layer.spectral_mask.shape, generator=gen(10), dtype=dtype)
                    layer.spectral_mask.copy_(values)
        xb = x.clone().requires_grad_()
        out = model(xb)
        (out * torch.arange(out.numel(), dtype=dtype).view_as(out)).sum().backward()
        results[name] = [out, xb.grad] + [p.grad for p in model.parameters()]
    assert len(results["fft"]) > 4
    for ref, other in zip(results["fft"], results[backend], strict=False):
        torch.testing.assert_close(other, ref, atol=atol, rtol=atol)


@pytest.mark.parametrize(
    "y_shape,mask_shape",
    [
        ((4, 6, 8, 8), (6, 8, 5)),  # (B, C, H, W) with a mask per channel: the GEMM-per-channel layout
        ((4, 6, 8, 8), (1, 8, 5)),  # one mask per layer
        ((6, 7, 5), (6, 7, 3)),  # no batch dim, odd W
        ((2, 3, 4, 6, 6), (4, 6, 4)),  # extra leading dim: the broadcast layout
    ],
)
def test_circulant_backend_equals_fft_at_float64_precision(y_shape, mask_shape):
    y = torch.randn(y_shape, generator=gen(30), dtype=torch.float64, requires_grad=True)
    mask = torch.rand(mask_shape, generator=gen(31), dtype=torch.float64, requires_grad=True)
    grad_out = torch.randn(y_shape, generator=gen(32), dtype=torch.float64)
    results = {}
    for backend in ("fft", "circulant"):
        out = spectral_filter(y, mask, backend)
        results[backend] = (out, *torch.autograd.grad(out, (y, mask), grad_out))
    for ref, other in zip(results["fft"], results["circulant"], strict=False):
        torch.testing.assert_close(other, ref, atol=1e-12, rtol=0)


def test_circulant_index_holds_the_wrapped_offset_q_minus_p():
    torch.testing.assert_close(
        circulant_index(1, 3, torch.device("cpu")), torch.tensor([[0, 1, 2], [2, 0, 1], [1, 2, 0]])
    )
    index = circulant_index(3, 4, torch.device("cpu"))  # p = (1, 3), q = (0, 1): offset (-1, -2) = (2, 2)
    assert index[1 * 4 + 3, 0 * 4 + 1] == 2 * 4 + 2


def test_auto_backend_uses_circulant_up_to_8x8_and_fft_above():
    assert AUTO_MAX_PIXELS == 64
    assert resolve_backend("auto", 8, 8) == "circulant"
    assert resolve_backend("auto", 6, 5) == "circulant"
    assert resolve_backend("auto", 16, 16) == "fft"
    assert resolve_backend("dft", 8, 8) == "dft"
    with pytest.raises(ValueError, match="unknown spectral backend"):
        resolve_backend("cuda", 8, 8)


def test_auto_backend_really_runs_the_circulant_form_on_8x8_maps(monkeypatch):
    import specreg_cli.spectral_dft as dft

    calls = []
    monkeypatch.setattr(dft, "circulant_filter", lambda y, mask: calls.append(y.shape) or y)
    spectral_filter(torch.randn(2, 3, 8, 8), torch.ones(3, 8, 5), "auto")
    spectral_filter(torch.randn(2, 3, 16, 16), torch.ones(3, 16, 9), "auto")
    assert calls == [torch.Size([2, 3, 8, 8])]


def test_float32_input_under_autocast_keeps_every_backend_in_float32():
    y = torch.randn(2, 3, 8, 8, generator=gen(35))
    mask = torch.rand(3, 8, 5, generator=gen(36))
    expected = spectral_filter(y, mask, "fft")
    for backend in BACKENDS:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = spectral_filter(y, mask, backend)
        assert out.dtype == torch.float32
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)  # bfloat16 GEMMs would be ~1e-2 off


def test_train_cli_offers_exactly_the_library_backends():
    from specreg_cli.commands.train import MaskBackend

    assert tuple(b.value for b in MaskBackend) == BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_filter_first_run_in_inference_mode_can_then_train(backend):
    # The filters cache index tensors per shape; one first built under inference_mode must still be usable
    # when autograd saves it for backward (an evaluation before a training step in the same process).
    import specreg_cli.spectral_circulant as circulant
    import specreg_cli.spectral_dft as dft

    for cache in (circulant.circulant_index, dft._self_conjugate_index, dft.dft_matrices):
        cache.cache_clear()
    y = torch.randn(2, 3, 8, 6, generator=gen(33))
    mask = torch.rand(3, 8, 4, generator=gen(34))
    with torch.inference_mode():
        spectral_filter(y, mask, backend)
    mask.requires_grad_()
    spectral_filter(y.requires_grad_(), mask, backend).square().sum().backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("col", [0, 4])  # DC column and, for W = 8, the Nyquist column
def test_a_conjugate_pair_on_a_self_conjugate_column_acts_with_its_mean(backend, col):
    y = torch.randn(2, 3, 6, 8, generator=gen(17), dtype=torch.float64)
    mask = torch.ones(3, 6, 5, dtype=torch.float64)
    mask[:, 1, col] = 0.0  # (1, col) and (-1, col) = (5, col) are one real frequency
    half = mask.clone()
    half[:, 1, col] = half[:, 5, col] = 0.5
    expected = torch.fft.irfft2(half * torch.fft.rfft2(y), s=(6, 8))
    torch.testing.assert_close(spectral_filter(y, mask, backend), expected, atol=1e-10, rtol=0)
    assert (spectral_filter(y, mask, backend) - y).abs().max() > 1e-3  # the pair really is half-removed


def test_spectral_filter_checks_the_mask_shape():
    with pytest.raises(ValueError, match="does not fit"):
        spectral_filter(torch.randn(1, 2, 8, 8), torch.ones(2, 8, 8))


def test_autocast_bfloat16_runs_the_filter_in_float32_and_casts_back():
    layer = masked_layer((6, 7), dtype=torch.float32)
    x = torch.randn(2, 3, 6, 7, generator=gen(11))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = layer(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), layer(x), atol=0.1, rtol=0.05)


# ---------------------------------------------------------------- the layer


def test_mask_shapes_per_channel_and_per_layer():
    assert masked_layer((6, 7)).spectral_mask.shape == (4, 6, 4)
    assert masked_layer((8, 6), per_channel=False).spectral_mask.shape == (1, 8, 4)


def test_from_conv_shares_the_conv_parameters_and_draws_nothing_from_the_global_rng():
    conv = nn.Conv2d(3, 4, 3, padding=1)
    state = torch.random.get_rng_state()
    layer = SpectralMaskConv2d.from_conv(conv, (6, 7), MaskConfig(), gen())
    assert torch.equal(torch.random.get_rng_state(), state)
    assert layer.weight is conv.weight and layer.bias is conv.bias
    assert list(layer.state_dict()) == ["weight", "bias", "spectral_mask"]


def test_clamp_keeps_masks_in_the_unit_interval():
    model = tiny()
    opt = torch.optim.SGD(spectral_mask_parameters(model), lr=100.0)
    model(torch.rand(4, *TINY_INPUT, generator=gen(12))).pow(2).sum().backward()
    opt.step()
    masks = torch.cat([m.detach().flatten() for m in spectral_mask_parameters(model)])
    assert masks.min() < 0 or masks.max() > 1  # the huge step left the interval...
    clamp_spectral_masks_(model)
    masks = torch.cat([m.detach().flatten() for m in spectral_mask_parameters(model)])
    assert masks.min() >= 0 and masks.max() <= 1  # ...and the clamp brought it back


def test_stochastic_binarisation_only_in_training():
    layer = masked_layer((6, 7), stochastic=True)
    with torch.no_grad():
        layer.spectral_mask.fill_(0.5)
    x = torch.randn(2, 3, 6, 7, generator=gen(13), dtype=torch.float64)
    layer.train()
    assert not torch.equal(layer(x), layer(x))  # Bernoulli(0.5) draws differ between forwards
    layer.eval()
    first = layer(x)
    assert torch.equal(first, layer(x))
    plain = F.conv2d(x, layer.weight, layer.bias, padding=1)
    torch.testing.assert_close(first, plain, atol=1e-10, rtol=0)  # deterministic: 0.5 >= 0.5 keeps


@pytest.mark.parametrize("p", [0.25, 0.5])
def test_random_drop_only_in_training(p):
    layer = masked_layer((32, 32), random_drop=p)
    with torch.no_grad():
        layer.spectral_mask.fill_(1.0)
    x = torch.randn(2, 3, 32, 32, generator=gen(14), dtype=torch.float64)
    plain = F.conv2d(x, layer.weight, layer.bias, padding=1)
    layer.eval()
    torch.testing.assert_close(layer(x), plain, atol=1e-10, rtol=0)
    layer.train()
    out = layer(x)
    assert (out - plain).abs().max() > 1e-3
    out.pow(2).sum().backward()  # dropped frequencies get no mask gradient
    dropped = (layer.spectral_mask.grad == 0).double().mean().item()
    assert abs(dropped - p) < 0.03


@pytest.mark.parametrize(
    "spread_kind,init,expected",
    [
        ("std", SCRATCH_INIT, 0.0668),  # P[N(0.8, 0.2) < 0.5] = Phi(-1.5)
        ("std", FINETUNE_INIT, 0.1587),  # P[N(0.6, 0.1) < 0.5] = Phi(-1)
        ("variance", FINETUNE_INIT, 0.3759),  # P[N(0.6, sqrt(0.1)) < 0.5] = Phi(-0.316)
    ],
)
def test_init_distribution(spread_kind, init, expected):
    conv = nn.Conv2d(3, 64, 1)
    cfg = MaskConfig(init_mean=init[0], init_spread=init[1], spread_kind=spread_kind)
    mask = SpectralMaskConv2d.from_conv(conv, (32, 32), cfg, gen()).spectral_mask.detach()
    assert mask.min() >= 0 and mask.max() <= 1
    assert abs((mask < 0.5).double().mean().item() - expected) < 0.01


def test_wrong_input_size_is_a_user_error():
    with pytest.raises(SpecregError, match="built for"):
        masked_layer((6, 7))(torch.randn(1, 3, 8, 8, dtype=torch.float64))


# ---------------------------------------------------------------- conversion of a model


def test_apply_masks_every_conv_of_a_model_without_targets():
    model = tiny()
    assert is_masked(model) and not is_masked(TinyNet())
    assert list(masked_fractions(model)) == ["stem", "body.0", "body.3"]
    assert model.stem.spectral_mask.shape == (4, 12, 6)
    assert model.body[0].spectral_mask.shape == (6, 6, 3)  # stride 2 -> (6, 5) map
    with pytest.raises(ValueError, match="already"):
        apply_spectral_masks(model, MaskConfig(), TINY_INPUT)


def test_apply_is_seeded_and_leaves_batchnorm_statistics_and_global_rng_alone():
    torch.manual_seed(0)
    a, b = TinyNet(), TinyNet()
    b.load_state_dict(a.state_dict())
    b.train()
    state = torch.random.get_rng_state()
    apply_spectral_masks(a, MaskConfig(), TINY_INPUT, gen(3))
    apply_spectral_masks(b, MaskConfig(), TINY_INPUT, gen(3))
    assert torch.equal(torch.random.get_rng_state(), state)
    assert b.training and b.body[1].training
    assert torch.equal(b.body[1].running_mean, torch.zeros(6))  # the dummy forward ran in eval mode
    for ma, mb in zip(spectral_mask_parameters(a), spectral_mask_parameters(b), strict=False):
        assert torch.equal(ma, mb)
    other = apply_spectral_masks(TinyNet(), MaskConfig(), TINY_INPUT, gen(4))
    assert not torch.equal(spectral_mask_parameters(other)[0], spectral_mask_parameters(a)[0])


def test_state_dict_round_trip():
    model = tiny(seed=0).eval()
    fresh = tiny(seed=1).eval()
    keys = set(model.state_dict())
    assert {"stem.weight", "stem.bias", "stem.spectral_mask", "body.0.weight", "body.0.spectral_mask"} <= keys
    x = torch.rand(2, *TINY_INPUT, generator=gen(15))
    assert not torch.equal(model(x), fresh(x))
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(model(x), fresh(x))


def test_resnet20_targets_and_training_step():
    models = pytest.importorskip("specreg_cli.models")
    model = apply_spectral_masks(models.create_model("resnet20"), MaskConfig(), generator=gen())
    names = list(masked_fractions(model))
    assert names == [f"layer{s}.{b}.conv{c}" for s in (1, 2, 3) for b in range(3) for c in (1, 2)]
    assert model.layer1[0].conv1.spectral_mask.shape == (16, 32, 17)
    assert model.layer2[0].conv1.spectral_mask.shape == (32, 16, 9)
    assert model.layer3[2].conv2.spectral_mask.shape == (64, 8, 5)
    with_stem = apply_spectral_masks(models.create_model("resnet20"), MaskConfig(include_stem=True))
    assert list(masked_fractions(with_stem))[0] == "conv1"
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [m.detach().clone() for m in spectral_mask_parameters(model)]
    F.cross_entropy(model(torch.rand(2, 3, 32, 32, generator=gen(16))), torch.tensor([0, 1])).backward()
    opt.step()
    clamp_spectral_masks_(model)
    assert any(not torch.equal(b, m) for b, m in zip(before, spectral_mask_parameters(model), strict=False))


def test_bad_targets_are_rejected():
    class Bad(TinyNet):
        def spectral_mask_targets(self, include_stem):
            return ["head"]

    with pytest.raises(ValueError, match="not an nn.Conv2d"):
        apply_spectral_masks(Bad(), MaskConfig(), TINY_INPUT)


# ---------------------------------------------------------------- config and introspection


def test_mask_config_round_trip_and_validation():
    cfg = MaskConfig(per_channel=False, init_mean=0.6, init_spread=0.1, spread_kind="variance", backend="dft")
    assert MaskConfig.from_dict(cfg.to_dict()) == cfg
    assert MaskConfig.from_dict({}) == MaskConfig()
    assert math.isclose(cfg.init_std, math.sqrt(0.1))
    with pytest.raises(ValueError, match="unknown MaskConfig keys"):
        MaskConfig.from_dict({"per_chanel": True})
    for bad in ({"backend": "cuda"}, {"spread_kind": "var"}, {"random_drop": 1.0}):
        with pytest.raises(ValueError):
            MaskConfig(**bad)


def test_masked_fractions_on_hand_made_masks():
    model = tiny()
    with torch.no_grad():
        model.stem.spectral_mask.fill_(1.0)
        model.body[0].spectral_mask.fill_(1.0)
        model.body[0].spectral_mask[0].fill_(0.0)  # 1 of 6 channels masked
        model.body[3].spectral_mask.fill_(0.49)
    assert masked_fractions(model) == pytest.approx({"stem": 0.0, "body.0": 1 / 6, "body.3": 1.0})


def test_radial_profile_on_hand_made_masks():
    layer = masked_layer((8, 8))
    # Radii from fftfreq(8) x rfftfreq(8), in units of 1/8: 0, 1, 1.41, 2, 2.24, ..., max 5.66 at (4, 4).
    radius = (torch.fft.fftfreq(8)[:, None] ** 2 + torch.fft.rfftfreq(8)[None, :] ** 2).sqrt()  # (8, 5)
    with torch.no_grad():
        layer.spectral_mask.copy_((radius <= 0.25).double().expand_as(layer.spectral_mask))  # low-pass
    profile = radial_profile(layer, n_bins=3)  # bin edges at 1.89/8 and 3.77/8; no radius sits on one
    assert profile[0] == 0.0  # radii 0, 1, 1.41 (x 1/8): all kept
    assert profile[2] == 1.0  # radii >= 4/8: all masked
    in_bin1 = (radius >= radius.max() / 3) & (radius < 2 * radius.max() / 3)
    assert profile[1].item() == pytest.approx((radius[in_bin1] > 0.25).double().mean().item())
    assert 0 < profile[1] < 1
    with torch.no_grad():
        layer.spectral_mask[1:].fill_(1.0)  # only channel 0 of 4 is low-passed now
    assert radial_profile(layer, n_bins=3)[2].item() == pytest.approx(0.25)
    assert torch.isnan(radial_profile(layer, n_bins=64)).any()  # empty bins are NaN, not 0


def test_reseeding_the_mask_noise_repeats_a_steps_draw():
    layer = masked_layer((6, 7), stochastic=True, random_drop=0.3).train()
    x = torch.randn(2, 3, 6, 7, generator=gen(40), dtype=torch.float64)
    reseed_mask_noise_(layer, 5)
    first = layer(x)
    assert not torch.equal(layer(x), first)  # the stream moves on within a step
    reseed_mask_noise_(layer, 5)
    torch.testing.assert_close(layer(x), first, atol=0, rtol=0)  # same step seed: the same draw
    reseed_mask_noise_(layer, 6)
    assert not torch.equal(layer(x), first)
