"""Class activation maps: Grad-CAM equals CAM on a global-pooling ResNet, and it sees where the object is."""

import torch
import torch.nn.functional as F

from specreg_cli.cam import default_cam_layer, grad_cam
from specreg_cli.models import create_model
from specreg_cli.spectral import MaskConfig, apply_spectral_masks


def test_grad_cam_is_cam_on_a_global_pooling_resnet():
    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    images = torch.rand(4, 3, 32, 32)
    maps, predicted = grad_cam(model, images, default_cam_layer(model))
    # CAM (Zhou et al.): the linear weights of the predicted class over the last stage's maps
    captured = {}
    handle = model.layer3.register_forward_hook(lambda m, i, o: captured.setdefault("f", o))
    with torch.no_grad():
        model(images)
    handle.remove()
    weights = model.linear.weight[predicted][:, :, None, None]  # (B, 64, 1, 1)
    cam = F.relu((weights * captured["f"]).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(32, 32), mode="bilinear", align_corners=False)[:, 0]
    cam = cam / cam.flatten(1).amax(1)[:, None, None]
    assert torch.allclose(maps, cam, atol=1e-5)
    assert maps.shape == (4, 32, 32) and float(maps.min()) >= 0 and float(maps.amax(dim=(1, 2)).min()) > 0.99


def test_grad_cam_leaves_the_model_as_it_was():
    model = apply_spectral_masks(create_model("lenet"), MaskConfig()).train()
    maps, _ = grad_cam(model, torch.rand(2, 3, 32, 32), default_cam_layer(model), target=torch.tensor([1, 2]))
    assert model.training and all(p.grad is None for p in model.parameters())
    assert maps.shape == (2, 32, 32)


def test_the_map_follows_the_evidence():
    # a linear "model" whose class-0 score is the brightness of the top-left quadrant: its map lives there
    class Quadrant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 1, 1, bias=False)
            torch.nn.init.ones_(self.conv.weight)

        def forward(self, x):
            f = self.conv(x)
            return torch.stack([f[:, 0, :16, :16].mean((1, 2)), -f.mean((1, 2, 3))], 1)

    model = Quadrant()
    images = torch.zeros(1, 3, 32, 32)
    images[:, :, :16, :16] = 1.0
    maps, predicted = grad_cam(model, images, model.conv)
    assert predicted.tolist() == [0]
    assert float(maps[0, :16, :16].mean()) > 0.9 and float(maps[0, 16:, 16:].max()) < 1e-6


def test_cam_command_draws_a_grid_of_the_same_images_for_every_model(tmp_path):
    from typer.testing import CliRunner

    from specreg_cli.cli import app
    from specreg_cli.train import TrainConfig, train

    for method in ("natural", "masked"):
        config = TrainConfig(
            method=method,
            arch="lenet",
            dataset="synthetic:train=64,test=32",
            epochs=1,
            batch_size=32,
            device="cpu",
        )
        train(config, tmp_path / method)
    out = tmp_path / "figure3.png"
    args = ["cam", str(tmp_path / "natural"), str(tmp_path / "masked"), "--images", "4", "--device", "cpu"]
    result = CliRunner().invoke(app, [*args, "--corruption", "fog", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = tmp_path / "again.png"
    assert CliRunner().invoke(app, [*args, "--corruption", "fog", "--out", str(again)]).exit_code == 0
    assert again.read_bytes() == out.read_bytes()  # deterministic bytes
    bad = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "x.jpg")])
    assert bad.exit_code != 0 and not (tmp_path / "x.jpg").exists()
