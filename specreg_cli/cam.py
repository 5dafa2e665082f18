"""Class activation maps (the paper's Figure 3: where natural and masked models look).

Grad-CAM (Selvaraju et al., ICCV 2017): for a feature layer with maps A_k (B, K, h, w) and the score
y_c of class c, the weights are the spatially averaged gradients a_k = mean_ij dy_c / dA_k[i, j], and the
map is ReLU(sum_k a_k A_k), upsampled bilinearly to the input size and scaled to [0, 1] per image. For a
network that ends in global average pooling and one linear layer (both CIFAR ResNets here) Grad-CAM on
the last stage equals the original CAM (Zhou et al., CVPR 2016), sum_k w_ck A_k, up to a positive factor;
a test checks that. It works for any ``nn.Module`` given the layer, masked models included.

Example::

    maps, predicted = grad_cam(model, images, layer=default_cam_layer(model))  # (B, 32, 32) in [0, 1]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def default_cam_layer(model: nn.Module) -> nn.Module:
    """The last stage of a CIFAR ResNet (``stage_names``), else the model's last convolution."""
    stages = getattr(model, "stage_names", None)
    if stages:
        return getattr(model, stages[-1])
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ValueError("the model has no convolution to take activation maps from")
    return convs[-1]


def grad_cam(
    model: nn.Module, images: torch.Tensor, layer: nn.Module, target: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM maps of ``images`` (B, 3, H, W) in [0, 1] for class ``target`` (B,) (None: the predicted
    class). Returns (maps (B, H, W) float in [0, 1], predicted classes (B,)). The model runs in eval mode
    (restored afterwards); its parameters' gradients are left untouched."""
    captured: dict[str, torch.Tensor] = {}

    def keep(module, inputs, output):
        captured["maps"] = output

    was_training = model.training
    model.eval()
    handle = layer.register_forward_hook(keep)
    try:
        with torch.enable_grad():
            logits = model(images)
            predicted = logits.argmax(1)
            classes = predicted if target is None else target.to(predicted.device)
            score = logits.gather(1, classes[:, None]).sum()
            (grads,) = torch.autograd.grad(score, captured["maps"])
    finally:
        handle.remove()
        model.train(was_training)
    features = captured["maps"].detach()  # (B, K, h, w)
    weights = grads.mean(dim=(2, 3), keepdim=True)  # (B, K, 1, 1)
    cam = F.relu((weights * features).sum(1, keepdim=True))  # (B, 1, h, w)
    cam = F.interpolate(cam, size=images.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
    return cam / peak, predicted.detach()
