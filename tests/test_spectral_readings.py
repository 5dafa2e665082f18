"""The readings the paper leaves open: the binarisation threshold and the gradient to the conv output."""

import pytest
import torch
from torch import nn

from specreg_cli.spectral import MaskConfig, SpectralMaskConv2d
from specreg_cli.spectral_dft import spectral_filter


def layer(**options):
    torch.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1)
    return SpectralMaskConv2d.from_conv(conv, (8, 8), MaskConfig(**options), torch.Generator().manual_seed(1))


def test_the_threshold_decides_which_frequencies_are_kept():
    low, high = layer(threshold=0.3), layer(threshold=0.9)
    assert torch.equal(low.spectral_mask, high.spectral_mask)  # same init, only the rule differs
    m = low.spectral_mask.detach()
    assert torch.equal(low.binary_mask(), (m >= 0.3).to(m.dtype))
    assert torch.equal(high.binary_mask(), (m >= 0.9).to(m.dtype))
    assert high.binary_mask().sum() < low.binary_mask().sum()


@pytest.mark.parametrize("bad", [{"threshold": 0.0}, {"threshold": 1.5}, {"conv_grad": "both"}])
def test_bad_readings_are_refused(bad):
    with pytest.raises(ValueError):
        MaskConfig(**bad)


def test_real_conv_grad_keeps_the_value_and_the_mask_gradient_but_not_the_input_gradient():
    x = torch.randn(4, 2, 8, 8, dtype=torch.float64)
    grads = {}
    for reading in ("binary", "real"):
        mod = layer(conv_grad=reading).double()
        xr = x.clone().requires_grad_()
        out = mod(xr)
        out.square().sum().backward()
        grads[reading] = (out.detach(), xr.grad, mod.spectral_mask.grad)
    (out_b, gx_b, gm_b), (out_r, gx_r, gm_r) = grads["binary"], grads["real"]
    assert torch.equal(out_b, out_r)  # same forward value, bit for bit
    assert torch.allclose(gm_b, gm_r)  # straight-through mask gradient unchanged
    assert not torch.allclose(gx_b, gx_r)  # the conv output sees M, not binarize(M)
    # and "real" is the gradient of the filter with the real-valued M (Algorithm 1's dS <- dS * M)
    mod = layer(conv_grad="real").double()
    xr = x.clone().requires_grad_()
    y = nn.functional.conv2d(xr, mod.weight, mod.bias, padding=1)
    g = torch.autograd.grad(out_r.mul(2).mul(spectral_filter(y, mod.spectral_mask.detach())).sum(), xr)[0]
    assert torch.allclose(gx_r, g, atol=1e-10)
