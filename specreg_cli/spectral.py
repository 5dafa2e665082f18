"""The paper's method: a learnable, binarized mask on the spectrum of every convolution output.

For a convolution with output y (B, C, H, W), ``S = rfft2(y)`` is its half-spectrum (for a circular
convolution, ``F(x) * F(w)``). :class:`SpectralMaskConv2d` outputs ``irfft2(binarize(M) * S, s=(H, W))``
where M is a learnable real mask of shape (C, H, W//2+1) (per output channel, the default) or
(1, H, W//2+1) (one per layer).

- Forward: ``binarize(M) = 1 if M >= threshold else 0`` (or ``Bernoulli(M)`` in training with
  ``stochastic``; evaluation is always deterministic). Backward: straight-through, the gradient w.r.t.
  the binary mask is passed to M unchanged (the paper's dM = dS * S).
- Readings the paper leaves open, each an option with a stated default:
  - ``threshold`` (default 0.5): the paper does not say how M is binarised. With N(0.8, 0.2) and 0.5,
    about 6.7% of the frequencies are dropped at step 0, although the paper says "we don't drop any
    frequency at beginning".
  - ``conv_grad`` (default "binary"): the gradient that flows back to the conv output. "binary" is the
    exact gradient of the forward (dS <- dS * binarize(M)); "real" is Algorithm 1 as written,
    dS <- dS * M with the real-valued mask (the forward value is the same).
- After every optimizer step, :func:`clamp_spectral_masks_` clips M to [0, 1] (the init is clipped too,
  so the invariant holds from the start; that changes no binary value).
- Init: M ~ N(0.8, 0.2) from scratch (:data:`SCRATCH_INIT`), N(0.6, 0.1) when fine-tuning
  (:data:`FINETUNE_INIT`). DECISION: the paper calls the second number a "variance" in the fine-tune
  case; by default it is read as a standard deviation, as ``torch.nn.init.normal_(t, mean, std)`` code
  written from that notation does. With std, the fine-tune init masks ~16% of the frequencies at the
  start (P[N(0.6, 0.1) < 0.5]); read as a variance (std 0.316) it masks ~38%, which would wreck the
  trained model being fine-tuned. ``spread_kind="variance"`` takes the square root instead.
- Random drop (Table 1's "random drop 0.2 after using our method"; the paper does not define it, this
  is specreg's reading): in training only, a random fraction ``random_drop`` of the *kept* frequencies
  is zeroed at each forward, drawn afresh per forward from the layer's noise stream, with no rescaling
  (unlike dropout's 1/(1-p)); dropped entries get no mask gradient. Evaluation never drops.
- The filter itself (fft reference, circulant and matmul-DFT backends, proven equal in the tests; "auto" picks
  the fastest measured per map size) lives in :mod:`specreg_cli.spectral_dft`. On
  the self-conjugate columns (k=0 and k=W/2) entries h and -h are one real frequency: such a pair acts
  with the mean of its two binary entries (so one 0 of the pair halves that frequency), as irfft2 does.

Randomness is passed in: the init draws from the ``generator`` given to :func:`apply_spectral_masks`
(``None`` means a fixed seed 0, never the global RNG); each layer also draws a seed for its own training
noise generator (stochastic binarisation, random drop), created lazily on the mask's device; training
restarts it every step from the step's seed with :func:`reseed_mask_noise_` (so a resumed run draws the
same noise).

Example::

    gen = torch.Generator().manual_seed(0)
    model = apply_spectral_masks(create_model("resnet20"), MaskConfig(), generator=gen)
    loss.backward(); optimizer.step(); clamp_spectral_masks_(model)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from specreg_cli.errors import SpecregError
from specreg_cli.spectral_dft import BACKENDS, resolve_backend, spectral_filter

SCRATCH_INIT = (0.8, 0.2)  # (mean, spread) of the mask init when training from scratch
FINETUNE_INIT = (0.6, 0.1)  # (mean, spread) when fine-tuning a trained model
SPREAD_KINDS = ("std", "variance")
CONV_GRADS = ("binary", "real")


@dataclass(frozen=True)
class MaskConfig:
    """How masks are shaped, initialised, binarised and computed. Every field has the paper's default.

    Example: ``MaskConfig(init_mean=FINETUNE_INIT[0], init_spread=FINETUNE_INIT[1])`` for fine-tuning.
    """

    per_channel: bool = True  # True: a mask per output channel (C, H, W//2+1); False: one (1, H, W//2+1)
    stochastic: bool = False  # training binarises with Bernoulli(M), not M >= 0.5; eval stays deterministic
    include_stem: bool = False  # also mask the stem conv (models defining spectral_mask_targets)
    init_mean: float = SCRATCH_INIT[0]  # mean of the normal init of M
    init_spread: float = SCRATCH_INIT[1]  # std of the init, or its variance if spread_kind == "variance"
    spread_kind: str = "std"  # "std" | "variance": how init_spread is read (see the module docstring)
    random_drop: float = 0.0  # training only: fraction in [0, 1) of kept frequencies zeroed per forward
    backend: str = "auto"  # "auto" | "fft" | "circulant" | "dft"; auto: circulant for <= 8x8 maps, else fft
    threshold: float = 0.5  # deterministic binarisation: keep a frequency when M >= threshold (paper: silent)
    conv_grad: str = "binary"  # gradient to the conv output: "binary" (exact) | "real" (Algorithm 1's dS * M)

    def __post_init__(self) -> None:
        if self.spread_kind not in SPREAD_KINDS:
            raise ValueError(f"spread_kind must be one of {SPREAD_KINDS}, got {self.spread_kind!r}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.conv_grad not in CONV_GRADS:
            raise ValueError(f"conv_grad must be one of {CONV_GRADS}, got {self.conv_grad!r}")
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if not 0.0 <= self.random_drop < 1.0:
            raise ValueError(f"random_drop must be in [0, 1), got {self.random_drop}")
        if not (math.isfinite(self.init_mean) and math.isfinite(self.init_spread)):
            raise ValueError(f"the mask init must be finite, got N({self.init_mean}, {self.init_spread})")
        if self.init_spread < 0:
            raise ValueError(f"init_spread must be >= 0, got {self.init_spread}")

    @property
    def init_std(self) -> float:
        """Standard deviation of the init, whatever ``spread_kind`` says ``init_spread`` is."""
        return self.init_spread if self.spread_kind == "std" else math.sqrt(self.init_spread)

    def to_dict(self) -> dict:
        """Plain dict of every field (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MaskConfig:
        """Inverse of :meth:`to_dict`; missing keys take their default, unknown keys raise ValueError."""
        unknown = set(d) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown MaskConfig keys: {sorted(unknown)}")
        return cls(**d)


class SpectralMaskConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose output is filtered by a learnable binarized half-spectrum mask.

    Keeps the conv's state_dict keys (``weight``, ``bias``) and adds ``spectral_mask``:
    (C_out, H, W//2+1) per channel or (1, H, W//2+1) per layer, for a fixed conv output size
    ``output_hw`` = (H, W). Input: (B, C_in, H_in, W_in) -> output (B, C_out, H, W).

    Example::

        layer = SpectralMaskConv2d.from_conv(nn.Conv2d(3, 16, 3, padding=1), (32, 32), MaskConfig(), None)
        layer(torch.rand(8, 3, 32, 32)).shape   # (8, 16, 32, 32)
    """

    def __init__(
        self,
        *conv_args,
        output_hw: tuple[int, int],
        config: MaskConfig = MaskConfig(),
        generator: torch.Generator | None = None,
        **conv_kwargs,
    ):
        super().__init__(*conv_args, **conv_kwargs)
        self.output_hw = (int(output_hw[0]), int(output_hw[1]))
        self.config = config
        h, w = self.output_hw
        shape = (self.out_channels if config.per_channel else 1, h, w // 2 + 1)
        empty = torch.empty(shape, device=self.weight.device, dtype=self.weight.dtype)
        self.spectral_mask = nn.Parameter(empty)
        self._noise_seed = 0  # seed of this layer's training-noise stream (drawn at init, or reseed_noise)
        self._noise_gen: torch.Generator | None = None
        if not self.spectral_mask.is_meta:
            self.reset_spectral_mask(generator)

    @classmethod
    def from_conv(
        cls,
        conv: nn.Conv2d,
        output_hw: tuple[int, int],
        config: MaskConfig = MaskConfig(),
        generator: torch.Generator | None = None,
    ) -> SpectralMaskConv2d:
        """Wrap ``conv``, sharing its weight and bias Parameters (optimizer references stay valid)."""
        # Build on the meta device so nn.Conv2d's own init draws nothing from the global RNG.
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
            device="meta",
            dtype=conv.weight.dtype,
            output_hw=output_hw,
            config=config,
        )
        layer.weight, layer.bias = conv.weight, conv.bias
        mask_shape = layer.spectral_mask.shape
        empty = torch.empty(mask_shape, device=conv.weight.device, dtype=conv.weight.dtype)
        layer.spectral_mask = nn.Parameter(empty)
        layer.reset_spectral_mask(generator)
        layer.train(conv.training)
        return layer

    def reset_spectral_mask(self, generator: torch.Generator | None = None) -> None:
        """Draw M ~ N(init_mean, init_std) clipped to [0, 1], and this layer's training-noise seed."""
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        cfg = self.config
        # Sample on the generator's device then move, so a seed gives the same mask on any device.
        values = torch.randn(self.spectral_mask.shape, generator=gen, device=gen.device, dtype=torch.float64)
        values = (values * cfg.init_std + cfg.init_mean).clamp_(0.0, 1.0)
        with torch.no_grad():
            self.spectral_mask.copy_(values)
        self._noise_seed = int(torch.randint(0, 2**62, (1,), generator=gen, device=gen.device))
        self._noise_gen = None

    def binary_mask(self) -> torch.Tensor:
        """Deterministic 0/1 mask (``M >= threshold``), detached, shaped and typed like ``spectral_mask``."""
        return (self.spectral_mask.detach() >= self.config.threshold).to(self.spectral_mask.dtype)

    def reseed_noise(self, seed: int) -> None:
        """Restart this layer's training-noise stream (stochastic binarisation, random drop) from ``seed``."""
        self._noise_seed = int(seed)
        if self._noise_gen is not None:
            self._noise_gen.manual_seed(self._noise_seed)  # reuse the generator: this runs every step

    def _noise(self) -> torch.Generator:
        device = self.spectral_mask.device
        if self._noise_gen is None or self._noise_gen.device != device:
            self._noise_gen = torch.Generator(device=device).manual_seed(self._noise_seed)
        return self._noise_gen

    def _forward_mask(self) -> torch.Tensor:
        """The mask this forward applies (0/1 values), with straight-through gradient to ``spectral_mask``."""
        m = self.spectral_mask  # (C|1, H, K)
        if self.training and self.config.stochastic:
            b = torch.bernoulli(m.detach().clamp(0.0, 1.0), generator=self._noise())
        else:
            b = (m.detach() >= self.config.threshold).to(m.dtype)
        mask = b + (m - m.detach())  # value exactly b; d mask / d m = identity (straight-through)
        if self.training and self.config.random_drop > 0:
            keep = torch.rand(m.shape, generator=self._noise(), device=m.device, dtype=m.dtype)
            mask = mask * (keep >= self.config.random_drop).to(m.dtype)
        return mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)  # (B, C, H, W) conv output
        if tuple(y.shape[-2:]) != self.output_hw:
            raise SpecregError(
                f"spectral mask was built for {self.output_hw} conv outputs, got {tuple(y.shape[-2:])}",
                hint="masked models only accept the input size they were built for (e.g. 32x32 CIFAR images)",
            )
        backend = self.config.backend
        if self.config.conv_grad == "binary":
            return spectral_filter(y, self._forward_mask(), backend=backend)  # (B, C, H, W)
        # "real": the value of the binary filter; the mask's gradient from it (y detached), the conv
        # output's gradient through the real-valued M (a term whose value is exactly 0)
        binary = spectral_filter(y.detach(), self._forward_mask(), backend=backend)
        real = spectral_filter(y, self.spectral_mask.detach(), backend=backend)
        return binary + (real - real.detach())

    def extra_repr(self) -> str:
        mask = "x".join(str(s) for s in self.spectral_mask.shape)
        backend = self.config.backend
        if backend == "auto":
            backend = f"auto: {resolve_backend(backend, *self.output_hw)}"
        extra = f"output_hw={self.output_hw}, mask={mask}, backend={backend}"
        return f"{super().extra_repr()}, {extra}"


def _target_names(model: nn.Module, config: MaskConfig) -> list[str]:
    if hasattr(model, "spectral_mask_targets"):
        names = list(model.spectral_mask_targets(config.include_stem))
    else:
        names = [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    modules = dict(model.named_modules())
    for name in names:
        if not isinstance(modules.get(name), nn.Conv2d):
            raise ValueError(f"spectral mask target {name!r} is not an nn.Conv2d of the model")
    return names


def _output_sizes(
    model: nn.Module, names: list[str], input_shape: tuple[int, ...]
) -> dict[str, tuple[int, int]]:
    """(H, W) of each named conv's output, from one no-grad eval-mode forward of a zero batch of one."""
    sizes: dict[str, tuple[int, int]] = {}
    hooks = [
        model.get_submodule(n).register_forward_hook(
            lambda _m, _i, out, name=n: sizes.__setitem__(name, tuple(out.shape[-2:]))
        )
        for n in names
    ]
    modes = {m: m.training for m in model.modules()}
    param = next(model.parameters())
    try:
        model.eval()  # no BatchNorm statistics update from the dummy batch
        with torch.no_grad():
            model(torch.zeros(1, *input_shape, device=param.device, dtype=param.dtype))
    finally:
        for h in hooks:
            h.remove()
        for m, mode in modes.items():
            m.training = mode
    missing = [n for n in names if n not in sizes]
    if missing:
        raise ValueError(f"convolutions {missing} did not run in a forward pass of a {input_shape} input")
    return sizes


def apply_spectral_masks(
    model: nn.Module,
    config: MaskConfig = MaskConfig(),
    input_shape=(3, 32, 32),
    generator: torch.Generator | None = None,
) -> nn.Module:
    """Replace the model's target convs by :class:`SpectralMaskConv2d`, in place; returns ``model``.

    Targets: ``model.spectral_mask_targets(config.include_stem)`` (qualified names) if the model defines
    it, else every ``nn.Conv2d``. Output sizes come from one dummy forward of (1, *input_shape). Masks are
    initialised in target order from ``generator`` (None: a fixed seed 0).

    Example: ``apply_spectral_masks(create_model("resnet20"), MaskConfig())`` masks the 18 block convs.
    """
    if is_masked(model):
        raise ValueError("model already has spectral masks")
    names = _target_names(model, config)
    sizes = _output_sizes(model, names, tuple(input_shape))
    gen = generator if generator is not None else torch.Generator().manual_seed(0)
    for name in names:
        parent_name, _, attr = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = SpectralMaskConv2d.from_conv(getattr(parent, attr), sizes[name], config, gen)
        setattr(parent, attr, layer)
    return model


def spectral_mask_parameters(model: nn.Module) -> list[nn.Parameter]:
    """Every ``spectral_mask`` Parameter, in model order (for their own optimizer param group)."""
    return [m.spectral_mask for m in model.modules() if isinstance(m, SpectralMaskConv2d)]


def reseed_mask_noise_(model: nn.Module, step_seed: int) -> None:
    """Restart every masked layer's training-noise stream (stochastic binarisation, random drop) from
    (``step_seed``, the layer's position in model order). Call once per training step with a seed derived
    from (run seed, epoch, step): a step's noise then depends on nothing before it and on nothing about how
    the model was built, so a resumed run draws what an uninterrupted one would have. No effect on
    deterministic masks.

    Example: ``reseed_mask_noise_(model, step_seed(seed, epoch, step))`` before the forward pass.
    """
    layers = (m for m in model.modules() if isinstance(m, SpectralMaskConv2d))
    for position, layer in enumerate(layers):
        layer.reseed_noise(_mix_seeds(step_seed, position))


def _mix_seeds(a: int, b: int) -> int:
    """Two integers -> one 63-bit seed (splitmix64's finaliser): nearby inputs give unrelated seeds, also in
    the low 32 bits, which are all that a CPU generator keeps."""
    z = (a * 0x9E3779B97F4A7C15 + b * 0xBF58476D1CE4E5B9 + 0x94D049BB133111EB) % 2**64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) % 2**64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) % 2**64
    return (z ^ (z >> 31)) % 2**63


@torch.no_grad()
def clamp_spectral_masks_(model: nn.Module) -> None:
    """Clip every spectral mask to [0, 1] in place; call after each ``optimizer.step()``."""
    for mask in spectral_mask_parameters(model):
        mask.clamp_(0.0, 1.0)


def is_masked(model: nn.Module) -> bool:
    """True if the model contains at least one :class:`SpectralMaskConv2d`."""
    return any(isinstance(m, SpectralMaskConv2d) for m in model.modules())


def masked_fractions(model: nn.Module) -> dict[str, float]:
    """Per masked layer (qualified name, model order): fraction of half-spectrum entries whose binary mask
    is 0.

    This is the paper's Table 3 quantity. Example: ``{"layer1.0.conv1": 0.07, ...}``.
    """
    return {
        name: 1.0 - m.binary_mask().mean().item()
        for name, m in model.named_modules()
        if isinstance(m, SpectralMaskConv2d)
    }


def radial_profile(layer: SpectralMaskConv2d, n_bins: int = 8) -> torch.Tensor:
    """Fraction masked per radial-frequency bin, low -> high frequency: (n_bins,) float64.

    The radius of half-spectrum entry (h, k) is ``sqrt(fftfreq(H)[h]**2 + rfftfreq(W)[k]**2)`` in cycles
    per pixel; bins split [0, largest radius] into ``n_bins`` equal widths (the largest falls in the last
    bin). Each bin averages ``1 - binary_mask`` over its entries and all channels; an empty bin is NaN.
    Example: ``radial_profile(model.layer1[0].conv1)`` -> ``tensor([0.00, 0.02, ..., 0.31])``.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    h, w = layer.output_hw
    fy = torch.fft.fftfreq(h, dtype=torch.float64)[:, None]  # (H, 1) cycles/pixel
    fx = torch.fft.rfftfreq(w, dtype=torch.float64)[None, :]  # (1, K)
    radius = (fy**2 + fx**2).sqrt()  # (H, K)
    bins = (radius / radius.max() * n_bins).long().clamp_(max=n_bins - 1).flatten()  # (H*K,)
    masked = 1.0 - layer.binary_mask().to(torch.float64).mean(0).flatten()  # (H*K,) mean over channels
    total = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bins, masked.cpu())
    count = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, bins, torch.ones_like(masked.cpu()))
    return total / count  # 0/0 -> NaN for empty bins
