"""Figure 3 as a PNG grid: the same images (row 0), then one row per model with its class activation map
over the image and its predicted class (red when wrong). Deterministic bytes (the report's PNG settings).

Example::

    cam_grid(images_nhwc_uint8, labels, [("natural", maps, predicted), ...], Path("figure3.png"))
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np


def cam_grid(
    images: np.ndarray,
    labels: np.ndarray,
    rows: Sequence[tuple[str, np.ndarray, np.ndarray]],
    path: Path,
    class_names: Sequence[str] | None = None,
) -> Path:
    """``images`` uint8 (N, H, W, 3); ``rows``: (model name, maps (N, H, W) in [0, 1], predicted (N,))."""
    from matplotlib.figure import Figure

    from specreg_cli.plots import save_png

    def name(k: int) -> str:
        return class_names[k] if class_names is not None and 0 <= k < len(class_names) else str(k)

    n = len(images)
    figure = Figure(figsize=(1.6 * n + 1.2, 1.7 * (len(rows) + 1)))
    axes = figure.subplots(len(rows) + 1, n, squeeze=False)
    for j in range(n):
        axes[0, j].imshow(images[j])
        axes[0, j].set_title(name(int(labels[j])), fontsize=7)
        for i, (_, maps, predicted) in enumerate(rows, start=1):
            axes[i, j].imshow(images[j])
            axes[i, j].imshow(maps[j], cmap="jet", alpha=0.45, vmin=0, vmax=1)
            wrong = int(predicted[j]) != int(labels[j])
            axes[i, j].set_title(name(int(predicted[j])), fontsize=7, color="red" if wrong else "black")
    for i, (label, _, _) in enumerate([("image", None, None), *rows]):
        axes[i, 0].set_ylabel(label, fontsize=8)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    figure.tight_layout()
    return save_png(figure, path)
