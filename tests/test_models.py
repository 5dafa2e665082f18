import pytest
import torch
from torch import nn

from specreg_cli.errors import SpecregError
from specreg_cli.models import create_model, list_models


def test_resnet20_parameter_count():
    model = create_model("resnet20")
    assert sum(p.numel() for p in model.parameters()) == 269_722


def test_resnet20_structure():
    model = create_model("resnet20")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 19 and all(c.bias is None for c in convs)
    assert [c.out_channels for c in convs] == [16] * 7 + [32] * 6 + [64] * 6
    assert model.spectral_mask_targets() == [
        f"layer{s}.{b}.conv{c}" for s in (1, 2, 3) for b in range(3) for c in (1, 2)
    ]
    assert model.spectral_mask_targets(include_stem=True)[0] == "conv1"


@pytest.mark.parametrize("name", list_models())
def test_every_model_maps_unit_images_to_logits(name):
    model = create_model(name).eval()
    x = torch.rand(4, 3, 32, 32)
    out = model(x)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    # normalisation is the first layer: a model sees [0, 1] pixels, and its buffers say which statistics
    assert model.normalize.mean.shape == (1, 3, 1, 1)


def test_unknown_model_lists_choices():
    with pytest.raises(SpecregError, match="unknown architecture") as info:
        create_model("vgg")
    assert "resnet20" in info.value.hint


def test_resnet18_is_the_cifar_layout_of_the_papers_table_3():
    from specreg_cli.models.resnet import paper_layer_name

    model = create_model("resnet18")
    assert sum(p.numel() for p in model.parameters()) == 11_173_962  # kuangliu/pytorch-cifar ResNet18
    targets = model.spectral_mask_targets()
    assert len(targets) == 16 and not any("shortcut" in t for t in targets)
    names = [paper_layer_name(t) for t in targets]
    assert names[:3] == ["layer1conv1.1", "layer1conv2.1", "layer1conv1.2"] and names[-1] == "layer4conv2.2"
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)


def test_resnet18_takes_spectral_masks_with_the_right_map_sizes():
    from specreg_cli.spectral import MaskConfig, SpectralMaskConv2d, apply_spectral_masks

    model = apply_spectral_masks(create_model("resnet18"), MaskConfig())
    masks = {n: m.spectral_mask.shape for n, m in model.named_modules() if isinstance(m, SpectralMaskConv2d)}
    assert masks["layer1.0.conv1"] == (64, 32, 17) and masks["layer4.1.conv2"] == (512, 4, 3)
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
