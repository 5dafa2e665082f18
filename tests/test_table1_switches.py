"""The paper's Table 1 switches: input normalisation, random crop, flip, dropout (weight decay and random
drop are older options). Each one changes what it should and nothing else; defaults are the old
behaviour, and model descriptions written before the switches existed load with those defaults."""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from specreg_cli.checkpoint import build_model, load_checkpoint, load_model
from specreg_cli.data.loader import BatchLoader, random_crop_flip
from specreg_cli.errors import SpecregError
from specreg_cli.models import create_model
from specreg_cli.models.normalize import Normalize
from specreg_cli.models.options import apply_model_options
from specreg_cli.train import Trainer, model_config, train
from specreg_cli.train_config import TrainConfig

TINY = "synthetic:train=64,test=32,seed=0"


def tiny(**overrides) -> TrainConfig:
    base = {"arch": "lenet", "dataset": TINY, "epochs": 1, "batch_size": 32, "lr": 0.05, "device": "cpu"}
    return TrainConfig(**(base | overrides))


def images(n=16, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def batch_of(loader, epoch=0):
    loader.set_epoch(epoch)
    return next(iter(loader))[0]


def test_defaults_are_the_old_behaviour():
    config = TrainConfig()
    assert (config.normalize, config.crop, config.flip, config.dropout) == (True, True, True, 0.0)
    # a config.json written before the switches existed still loads, with them at their defaults
    old = {k: v for k, v in config.to_dict().items() if k not in ("normalize", "crop", "flip", "dropout")}
    assert TrainConfig.from_dict(old) == config


def test_crop_and_flip_switch_only_their_own_augmentation():
    x = torch.as_tensor(images()).permute(0, 3, 1, 2).contiguous()

    def augmented(**switches):
        return random_crop_flip(x, torch.Generator().manual_seed(3), **switches)

    both, crop_only, flip_only = augmented(), augmented(flip=False), augmented(crop=False)
    assert torch.equal(augmented(crop=False, flip=False), x)  # both off: the images as they are
    # crop off: every image is itself or its mirror image, the same ones that flip in the default
    mirrored = [
        torch.equal(f, i.flip(-1)) and not torch.equal(f, i) for f, i in zip(flip_only, x, strict=True)
    ]
    assert all(torch.equal(f, i) or m for f, i, m in zip(flip_only, x, mirrored, strict=True)) and any(
        mirrored
    )
    # flip off: the default's crops without the mirroring; the default is crop_only, flipped where drawn
    for d, c, m in zip(both, crop_only, mirrored, strict=True):
        assert torch.equal(d, c.flip(-1) if m else c)
    assert not torch.equal(crop_only, x)


def test_loader_passes_the_switches_and_keeps_the_order():
    data, labels = images(32), np.arange(32) % 10
    plain = BatchLoader(data, labels, 8, train=True, seed=1, crop=False, flip=False)
    default = BatchLoader(data, labels, 8, train=True, seed=1)
    plain.set_epoch(0)
    default.set_epoch(0)
    (xp, yp), (xd, yd) = next(iter(plain)), next(iter(default))
    assert torch.equal(yp, yd) and not torch.equal(xp, xd)  # same order, only the augmentation differs
    # without augmentation every image of the batch is one of the data's images as it is
    originals = torch.as_tensor(data).permute(0, 3, 1, 2).float() / 255
    assert all(any(torch.equal(img, o) for o in originals) for img in xp)


def test_normalisation_off_means_no_normalize_layer(tmp_path):
    model = build_model(model_config(tiny(normalize=False)))
    assert not any(isinstance(m, Normalize) for m in model.modules())
    assert not any(k.startswith("normalize.") for k in model.state_dict())
    x = torch.rand(2, 3, 32, 32)
    default = build_model(model_config(tiny()))
    assert any(isinstance(m, Normalize) for m in default.modules())
    # off = the network sees raw pixels: the same weights give what the default gives on normalised input
    model.load_state_dict({k: v for k, v in default.state_dict().items() if not k.startswith("normalize.")})
    assert torch.allclose(model.eval()(default.normalize(x)), default.eval()(x), atol=1e-6)
    # and a trained run keeps it: its checkpoint rebuilds without the layer
    train(tiny(normalize=False), tmp_path / "run")
    loaded, _ = load_model(tmp_path / "run")
    assert isinstance(loaded.normalize, nn.Identity)


def test_dropout_acts_in_training_only_and_keeps_the_checkpoint_keys():
    model = apply_model_options(create_model("lenet"), dropout=0.1)
    assert model.dropout.p == pytest.approx(0.1)
    assert set(model.state_dict()) == set(create_model("lenet").state_dict())
    x = torch.rand(64, 3, 32, 32)
    torch.manual_seed(0)
    model.train()
    noisy = model(x)
    model.eval()
    assert not torch.allclose(noisy, model(x))  # units were dropped in training
    assert torch.equal(model(x), model(x))
    inputs = []
    model.fc3.register_forward_pre_hook(lambda m, args: inputs.append(args[0]))
    for mode in (True, False):
        model.train(mode)(x)
    trained, evaluated = ((i == 0).float().mean() for i in inputs)
    # dropped units are zeros at fc3's input, in training only: about 10% of the units ReLU left non-zero
    assert trained - evaluated > 0.05 * (1 - evaluated)


def test_dropout_is_refused_where_there_is_no_hidden_fc_layer():
    with pytest.raises(SpecregError, match="no hidden fully connected"):
        apply_model_options(create_model("resnet20"), dropout=0.1)
    with pytest.raises(SpecregError, match="--dropout"):
        tiny(dropout=1.0).validate()


def test_each_switch_changes_the_trained_model(tmp_path):
    """Same seed, one switch flipped at a time: the weights differ from the default run's."""
    runs = {"default": {}, "normalize": {"normalize": False}, "crop": {"crop": False}}
    runs |= {"flip": {"flip": False}, "dropout": {"dropout": 0.1}, "weight_decay": {"weight_decay": 0.0}}
    weights = {}
    for name, switch in runs.items():
        train(tiny(**switch), tmp_path / name)
        state = load_checkpoint(tmp_path / name).state_dict
        weights[name] = state["fc3.weight"]
    for name in runs:
        if name != "default":
            assert not torch.equal(weights[name], weights["default"]), name
    assert load_checkpoint(tmp_path / "dropout").meta["model"]["dropout"] == pytest.approx(0.1)


def test_old_model_descriptions_load_with_the_defaults(tmp_path):
    train(tiny(), tmp_path / "run")
    checkpoint = load_checkpoint(tmp_path / "run")
    description = {k: v for k, v in checkpoint.meta["model"].items() if k not in ("normalize", "dropout")}
    model = build_model(description)
    model.load_state_dict(checkpoint.state_dict)
    assert isinstance(model.normalize, Normalize) and model.dropout.p == 0


def test_resume_keeps_the_switches(tmp_path):
    config = tiny(epochs=2, normalize=False, dropout=0.1, crop=False)
    first = dataclasses.replace(config, epochs=1)
    train(first, tmp_path / "run")
    trainer = Trainer(config, tmp_path / "run", resume=True, given={"epochs"})
    assert trainer.config.normalize is False and trainer.config.crop is False
    model = trainer.build_state().model
    assert isinstance(model.normalize, nn.Identity) and model.dropout.p == pytest.approx(0.1)
