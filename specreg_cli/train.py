"""One training loop for every method; methods differ only in how a batch is perturbed
(:mod:`specreg_cli.perturb`) and, for ``masked``, in the model (:mod:`specreg_cli.spectral`).

Reproducibility: the batches of an epoch depend only on (seed, epoch); at every step torch's global RNG
(torchattacks' random start, noise augmentation) and the masked layers' own noise streams (stochastic
masks, random drop; :func:`~specreg_cli.spectral.reseed_mask_noise_`) are reseeded from (seed, epoch,
step), so a resumed run on the CPU ends with the same weights as an uninterrupted one. The caller's RNG
state is restored afterwards.

After every epoch the model is evaluated in eval mode on the test set and on a fixed subset of clean
training images (Figure 2's train accuracy and train-test gap, comparable across methods: gauss and
adversarial batches are perturbed, so their running batch accuracy is not the train accuracy). The
test set never chooses the model: ``model.pt`` is always the last epoch.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from specreg_cli.checkpoint import build_model, load_checkpoint, make_meta, save_checkpoint
from specreg_cli.data import BatchLoader, load_dataset
from specreg_cli.device import resolve_device
from specreg_cli.errors import SpecregError
from specreg_cli.evaluate import evaluate_batches
from specreg_cli.methods import get_method
from specreg_cli.run_dir import RunDir
from specreg_cli.train_config import TrainConfig

RESUME_OVERRIDES = frozenset({"device", "epochs"})  # the config fields a resumed run may change
# the first N training images (a fixed subset: the splits are stored shuffled) measure clean train accuracy
CLEAN_TRAIN_IMAGES = 2000
LOG_EVERY = 10  # steps between host syncs for the live loss (each .item() stalls a GPU pipeline)


class TrainingDiverged(SpecregError):
    """The loss became NaN or infinite."""


class TrainProgress(Protocol):
    """What the loop reports; the CLI renders it with Rich, tests may ignore it."""

    def start(self, epochs: int, steps_per_epoch: int, first_epoch: int) -> None: ...
    def step(self, epoch: int, step: int, loss: float, acc: float) -> None: ...
    def epoch_end(self, row: dict) -> None: ...


class SilentProgress:
    def start(self, epochs, steps_per_epoch, first_epoch):
        pass

    def step(self, epoch, step, loss, acc):
        pass

    def epoch_end(self, row):
        pass


@dataclass
class TrainResult:
    run_dir: Path
    metrics: list[dict]  # one row per epoch (run_dir.METRIC_COLUMNS)
    mask_fractions: list[dict]  # masked runs: epoch, layer, masked_fraction
    trained_epochs: int = 0  # epochs this call trained (0: the run was already finished)


@dataclass
class TrainingState:
    """What one epoch of training needs, as :meth:`Trainer.build_state` makes it (public for benchmarks)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    first_epoch: int  # epochs already done (0 for a fresh run)
    metrics: list[dict] = dataclasses.field(default_factory=list)  # rows of the epochs already done
    mask_fractions: list[dict] = dataclasses.field(default_factory=list)


def step_seed(seed: int, epoch: int, step: int) -> int:
    return (seed * 1_000_003 + epoch) * 100_003 + step


def lr_factor(schedule: str, step: int, steps_per_epoch: int, epochs: int) -> float:
    """Multiplier of the base lr at global ``step``: step = x0.1 at 50% and x0.01 at 75% of the epochs;
    cosine = 0.5 (1 + cos(pi t / T)) per step."""
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * step / (steps_per_epoch * epochs)))
    epoch = step // steps_per_epoch
    return 1.0 if epoch < 0.5 * epochs else 0.1 if epoch < 0.75 * epochs else 0.01


def model_config(config: TrainConfig) -> dict:
    """The architecture description a checkpoint stores (and :func:`build_model` reads)."""
    spectral = None
    if get_method(config.method).masked:
        from specreg_cli.spectral import FINETUNE_INIT, MaskConfig

        options = dict(config.mask)
        if config.init_from:  # fine-tuning: the paper's N(0.6, 0.1) unless the user chose an init
            options.setdefault("init_mean", FINETUNE_INIT[0])
            options.setdefault("init_spread", FINETUNE_INIT[1])
        try:
            spectral = MaskConfig.from_dict(options).to_dict()
        except (TypeError, ValueError) as exc:
            raise SpecregError(f"bad mask option: {exc}") from None
    switches = {"normalize": config.normalize, "dropout": config.dropout}  # models/options.py
    return {"arch": config.arch, "num_classes": 10, "spectral": spectral, **switches}


def _build_fresh_model(config: TrainConfig, model_cfg: dict) -> nn.Module:
    torch.manual_seed(config.seed)  # weight init draws from the global RNG (forked by the caller)
    if not config.init_from:
        return build_model(model_cfg, generator=torch.Generator().manual_seed(config.seed))
    source = load_checkpoint(config.init_from, expected_arch=config.arch)
    model = build_model({**model_cfg, "spectral": None})
    weights = {k: v for k, v in source.state_dict.items() if not k.endswith("spectral_mask")}
    try:
        model.load_state_dict(weights)
    except RuntimeError:  # e.g. a source trained with --no-normalize has no normalize.* buffers
        raise SpecregError(
            f"--init-from {source.path} does not fit this model (its layers differ)",
            hint="fine-tune with the source run's --normalize / --no-normalize setting",
        ) from None
    if model_cfg["spectral"]:
        from specreg_cli.spectral import MaskConfig, apply_spectral_masks

        apply_spectral_masks(
            model,
            MaskConfig.from_dict(model_cfg["spectral"]),
            generator=torch.Generator().manual_seed(config.seed),
        )
    return model


def _optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    from specreg_cli.spectral import spectral_mask_parameters

    masks = spectral_mask_parameters(model)
    mask_ids = {id(p) for p in masks}
    groups = [
        {
            "params": [p for p in model.parameters() if id(p) not in mask_ids],
            "weight_decay": config.weight_decay,
            "lr": config.lr,
        }
    ]
    if masks:
        groups.append(
            {"params": masks, "weight_decay": config.mask_weight_decay, "lr": config.lr * config.mask_lr_mult}
        )
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum)


def _mask_fractions(model: nn.Module) -> dict[str, float]:
    from specreg_cli.spectral import is_masked, masked_fractions

    return masked_fractions(model) if is_masked(model) else {}


class Trainer:
    """Holds the state of one run; :meth:`run` trains the remaining epochs.

    Resuming (``resume=True``): the run's saved config is used. ``given`` names the config fields the
    user set explicitly: ``device`` and ``epochs`` among them override the saved ones (a larger ``epochs``
    extends the run, with the lr schedule recomputed for the new length; :attr:`extended_from` holds the
    old length); any other given field that differs from the saved run is refused, since a resumed run
    keeps its recipe. A finished run that is not extended is left exactly as it is
    (:attr:`already_finished`).
    """

    def __init__(
        self,
        config: TrainConfig,
        out_dir: str | Path,
        resume: bool = False,
        force: bool = False,
        given: Collection[str] = (),
    ):
        if Path(out_dir).expanduser().resolve() == Path.cwd():
            raise SpecregError(
                "--out must name a run directory, not the current folder", hint="e.g. --out runs/a"
            )
        self.run_dir = RunDir(Path(out_dir).expanduser().resolve())
        self.force = force
        state = self.run_dir.check_writable(resume, force)
        self.extended_from: int | None = None
        if state is not None:
            config = self._resumed_config(
                config, TrainConfig.from_dict(state.config), given, state.epochs_done
            )
        self.already_finished = state is not None and state.epochs_done == config.epochs
        self.config = config.validate()
        self.device = resolve_device(self.config.device)
        # one loss scaler for the whole run, so its scale carries over between epochs (float16 on CUDA only)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.config.amp and self.device.type == "cuda")
        self.train_set = load_dataset(config.dataset, "train", config.data_dir, config.download)
        self.test_set = load_dataset(config.dataset, "test", config.data_dir, config.download)
        self.model_cfg = model_config(self.config)
        self.resume_state = state
        if len(self.train_set) < self.config.batch_size:
            raise SpecregError(
                f"--batch-size {self.config.batch_size} exceeds the {len(self.train_set)} training images"
            )

    def _resumed_config(
        self, wanted: TrainConfig, saved: TrainConfig, given: Collection[str], epochs_done: int
    ) -> TrainConfig:
        changed = [
            name
            for name in given
            if name not in RESUME_OVERRIDES and getattr(wanted, name) != getattr(saved, name)
        ]
        if changed:
            options = ", ".join(f"--{name.replace('_', '-')}" for name in sorted(changed))
            raise SpecregError(
                f"{options} differ from the run in {self.run_dir.path}: a resumed run keeps its recipe",
                hint="drop them (only --epochs and --device may change on --resume), or --force a new run",
            )
        config = dataclasses.replace(
            saved, **{name: getattr(wanted, name) for name in RESUME_OVERRIDES & set(given)}
        )
        if config.epochs < epochs_done:
            raise SpecregError(
                f"--epochs {config.epochs} is fewer than the {epochs_done} epochs that {self.run_dir.path} "
                "has done",
                hint="a run can be extended, not shortened; train a new run into another --out",
            )
        if config.epochs != saved.epochs:
            self.extended_from = saved.epochs
        return config

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_set) // self.config.batch_size

    def build_state(self) -> TrainingState:
        """Model, optimizer and lr schedule: fresh, or restored from the run's checkpoint when resuming."""
        config = self.config
        steps_per_epoch = self.steps_per_epoch
        if self.resume_state is not None:
            checkpoint = load_checkpoint(self.run_dir.checkpoint, expected_arch=config.arch)
            model = build_model(checkpoint.meta["model"])
            model.load_state_dict(checkpoint.state_dict)
            first_epoch = checkpoint.meta["epoch"]
            done = checkpoint.meta["resume"]
            # the rows travel in the checkpoint (the commit point); older checkpoints: from the CSVs
            metrics = done.get("metrics", self.run_dir.read_metrics())[:first_epoch]
            fractions = done.get("mask_fractions", self.run_dir.read_mask_fractions())
            fractions = [r for r in fractions if r["epoch"] <= first_epoch]
        else:
            model = _build_fresh_model(config, self.model_cfg)
            first_epoch, metrics, fractions = 0, [], []
        model.to(self.device)
        if config.channels_last:
            model.to(memory_format=torch.channels_last)
        optimizer = _optimizer(model, config)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: lr_factor(config.schedule, step, steps_per_epoch, config.epochs)
        )
        if self.resume_state is not None:
            optimizer.load_state_dict(checkpoint.meta["resume"]["optimizer"])
            scheduler.load_state_dict(checkpoint.meta["resume"]["scheduler"])
            # the lr follows from the step count and this run's schedule, not the one the file was saved
            # under (an extended run has a longer one)
            for group, base_lr, fn in zip(
                optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
            ):
                group["lr"] = base_lr * fn(scheduler.last_epoch)
        return TrainingState(model, optimizer, scheduler, first_epoch, metrics, fractions)

    def run(self, progress: TrainProgress | None = None) -> TrainResult:
        if self.already_finished:  # nothing to train, and nothing rewritten
            if not self.resume_state.finished:  # killed between its last checkpoint and its state file
                self.run_dir.write_state(self.config.to_dict(), "finished", self.resume_state.epochs_done)
            return TrainResult(
                self.run_dir.path, self.run_dir.read_metrics(), self.run_dir.read_mask_fractions()
            )
        progress = progress or SilentProgress()
        devices = [self.device.index or 0] if self.device.type == "cuda" else []
        with self.run_dir.lock(), torch.random.fork_rng(devices=devices):
            if self.run_dir.check_writable(self.resume_state is not None, self.force) != self.resume_state:
                raise SpecregError(
                    f"{self.run_dir.path} changed while this run was being prepared",
                    hint="another process trained it; look at it before you run again",
                )
            self.run_dir.remove_temporaries()
            return self._run(progress)

    def _run(self, progress: TrainProgress) -> TrainResult:
        config = self.config
        state = self.build_state()
        if self.resume_state is None:
            # a fresh run writes nothing until its first epoch is saved: one that fails before that (a NaN
            # loss in epoch 1, a kill) leaves no half-made run, so train and train --resume agree about it
            self.run_dir.clear()
        else:
            self.run_dir.write_state(config.to_dict(), "running", state.first_epoch)
        metrics, fractions = list(state.metrics), list(state.mask_fractions)
        train_loader = BatchLoader(
            self.train_set.images,
            self.train_set.labels,
            config.batch_size,
            self.device,
            train=True,
            seed=config.seed,
            crop=config.crop,
            flip=config.flip,
        )
        test_loader = BatchLoader(self.test_set.images, self.test_set.labels, 500, self.device)
        subset = min(CLEAN_TRAIN_IMAGES, len(self.train_set))
        clean_train_loader = BatchLoader(
            self.train_set.images[:subset], self.train_set.labels[:subset], 500, self.device
        )
        step_model = torch.compile(state.model) if config.compile else state.model
        perturb = get_method(config.method).perturbation(config, state.model)
        progress.start(config.epochs, len(train_loader), state.first_epoch)
        for epoch in range(state.first_epoch, config.epochs):
            train_loader.set_epoch(epoch)
            row = self.train_epoch(state, epoch, train_loader, perturb, progress, step_model)
            row.update(self._epoch_end_metrics(state.model, clean_train_loader, test_loader))
            layer_fractions = _mask_fractions(state.model)
            row["masked_fraction"] = (
                sum(layer_fractions.values()) / len(layer_fractions) if layer_fractions else float("nan")
            )
            metrics.append(row)
            fractions += [
                {"epoch": epoch + 1, "layer": k, "masked_fraction": v} for k, v in layer_fractions.items()
            ]
            self._save(state, epoch + 1, metrics, fractions)
            progress.epoch_end(row)
        if state.first_epoch == config.epochs:  # killed after its last checkpoint: mend the other files
            self._write_views(config.epochs, metrics, fractions)
        return TrainResult(self.run_dir.path, metrics, fractions, config.epochs - state.first_epoch)

    def _autocast(self):
        if not self.config.amp:
            return contextlib.nullcontext()
        dtype = torch.float16 if self.device.type == "cuda" else torch.bfloat16
        return torch.autocast(self.device.type, dtype=dtype)

    def train_epoch(
        self,
        state: TrainingState,
        epoch: int,
        loader,
        perturb=None,
        progress: TrainProgress | None = None,
        model: nn.Module | None = None,
    ) -> dict:
        """One pass over ``loader`` ((x, y) batches): forward, backward, SGD step, lr step, mask clamp.

        ``model``: what the step runs (a torch.compile'd ``state.model``; default ``state.model``). Returns
        the epoch's metrics row (epoch, lr, batch_loss, batch_acc, seconds, images_per_s). Reseeds torch's
        global RNG at every step: callers that care wrap it in ``torch.random.fork_rng``.
        """
        from specreg_cli.spectral import clamp_spectral_masks_, reseed_mask_noise_

        config = self.config
        progress = progress or SilentProgress()
        model = model or state.model
        optimizer, scheduler = state.optimizer, state.scheduler
        model.train()
        lr = optimizer.param_groups[0]["lr"]
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.int64)
        seen, start = 0, time.perf_counter()
        for step, (x, y) in enumerate(loader):
            seed = step_seed(config.seed, epoch, step)
            torch.manual_seed(seed)  # a step's randomness depends only on (seed, epoch, step): exact resume
            reseed_mask_noise_(model, seed)
            if perturb is not None:
                x = perturb(x, y)
                model.train()  # torchattacks restores the mode, but be explicit: the SGD step trains
            if config.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with self._autocast():
                logits = model(x)
                loss = F.cross_entropy(logits.float(), y)
            optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
            scheduler.step()
            clamp_spectral_masks_(model)
            loss_sum += loss.detach() * len(y)
            correct += (logits.argmax(1) == y).sum()
            seen += len(y)
            if (step + 1) % LOG_EVERY == 0 or step + 1 == len(loader):
                self._check_finite(loss_sum, epoch, step)
                progress.step(epoch, step + 1, loss_sum.item() / seen, correct.item() / seen)
        seconds = time.perf_counter() - start
        return {
            "epoch": epoch + 1,
            "lr": lr,
            "batch_loss": loss_sum.item() / seen,
            "batch_acc": correct.item() / seen,
            "seconds": seconds,
            "images_per_s": seen / seconds,
        }

    def _check_finite(self, loss_sum: torch.Tensor, epoch: int, step: int) -> None:
        if not torch.isfinite(loss_sum).item():
            kept = (
                f"the last good checkpoint (epoch {epoch}) is kept in {self.run_dir.checkpoint}"
                if epoch
                else "no epoch had finished, so no checkpoint was written"
            )
            raise TrainingDiverged(
                f"the training loss became NaN or infinite in epoch {epoch + 1} (by step {step + 1}); {kept}",
                hint="lower --lr or check the data",
            )

    def _check_finite_weights(self, model: nn.Module, epochs_done: int) -> None:
        """A finite loss can still leave non-finite weights (a huge lr): such a model is never saved."""
        tensors = [t for t in model.state_dict().values() if t.is_floating_point()]
        if not all(torch.isfinite(t).all() for t in tensors):
            kept = (
                f"the last good checkpoint (epoch {epochs_done - 1}) is kept in {self.run_dir.checkpoint}"
                if epochs_done > 1 and self.run_dir.checkpoint.exists()
                else "no checkpoint was written"
            )
            raise TrainingDiverged(
                f"the weights became NaN or infinite in epoch {epochs_done}; {kept}",
                hint="lower --lr or check the data",
            )

    def _epoch_end_metrics(self, model: nn.Module, clean_train: BatchLoader, test: BatchLoader) -> dict:
        """Clean train and test accuracy of the model as it is saved (eval mode; touches no RNG)."""
        with self._autocast():
            train_acc, train_loss, _ = evaluate_batches(model, iter(clean_train))
            test_acc, test_loss, _ = evaluate_batches(model, iter(test))
        return {
            "train_loss": train_loss,
            "train_acc": train_acc,
            "test_loss": test_loss,
            "test_acc": test_acc,
            "gap": train_acc - test_acc,
        }

    def _save(self, state: TrainingState, epochs_done: int, metrics, fractions) -> None:
        config = self.config
        model, optimizer, scheduler = state.model, state.optimizer, state.scheduler
        self._check_finite_weights(model, epochs_done)
        meta = make_meta(
            self.model_cfg,
            config.method,
            self.train_set.identity,
            epochs_done,
            config.epochs,
            config.to_dict(),
            method_options=get_method(config.method).method_options(config),
            resume={
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "metrics": metrics,
                "mask_fractions": fractions,
            },
        )
        meta["test_dataset"] = self.test_set.identity  # lets evaluations notice a changed test set
        save_checkpoint(self.run_dir.checkpoint, model, meta)  # the commit point; the rest is derived
        self._write_views(epochs_done, metrics, fractions)

    def _write_views(self, epochs_done: int, metrics: list[dict], fractions: list[dict]) -> None:
        """metrics.csv, mask_fractions.csv and config.json from the rows the checkpoint holds."""
        config = self.config
        self.run_dir.write_metrics(metrics)
        if fractions:
            self.run_dir.write_mask_fractions(fractions)
        status = "finished" if epochs_done == config.epochs else "running"
        self.run_dir.write_state(config.to_dict(), status, epochs_done)


def source_dataset(init_from: str | Path) -> str | None:
    """The dataset spec that the checkpoint (or run directory) ``init_from`` was trained on, if recorded."""
    config = load_checkpoint(init_from).meta.get("config")
    dataset = config.get("dataset") if isinstance(config, dict) else None
    return dataset if isinstance(dataset, str) else None


def train(
    config: TrainConfig,
    out_dir: str | Path,
    resume: bool = False,
    force: bool = False,
    progress: TrainProgress | None = None,
) -> TrainResult:
    """Train ``config`` into ``out_dir`` (see :mod:`specreg_cli.run_dir` for what it holds)."""
    return Trainer(config, out_dir, resume=resume, force=force).run(progress)


__all__ = ["TrainConfig", "Trainer", "TrainResult", "TrainingDiverged", "TrainingState", "train", "lr_factor"]
