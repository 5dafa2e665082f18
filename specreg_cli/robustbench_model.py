"""RobustBench models by name: ``--model robustbench:NAME`` (the optional ``robustbench`` extra).

``robustbench.utils.load_model(model_name=NAME, dataset="cifar10", threat_model=..., model_dir=...)`` builds
the model and downloads its weights into ``model_dir`` (default ``models``) the first time; the weights are
then read by RobustBench's own code, not by specreg's weights-only loader, so this is as trustworthy as the
installed ``robustbench`` package. specreg still refuses non-finite weights, checks the (1, 10) logits and
records the downloaded file's SHA-256. RobustBench models normalise inside: no Normalize is added unless
``--mean/--std`` say so. ``--model-kwargs threat_model=Linf|L2|corruptions,model_dir=DIR`` choose the
leaderboard and folder; no ``--weights``.

The download cannot be tested offline; the tests run this module against a stand-in ``robustbench``
package that writes its weights file the way the real one does.

Example::

    model, source = load_robustbench(ExternalSpec("robustbench:Carmon2019Unlabeled"), "cpu")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from specreg_cli.errors import SpecregError
from specreg_cli.external_model import (
    ExternalModel,
    ExternalSpec,
    check_outputs,
    import_module,
    module_identity,
    split_target,
    wrap,
)

if TYPE_CHECKING:
    import torch
    from torch import nn

ROBUSTBENCH = "robustbench"  # --model robustbench:NAME
KWARGS = {"threat_model": "Linf", "model_dir": "models"}  # the keyword arguments taken, with defaults
DATASET = "cifar10"  # the leaderboard specreg's 10-class images belong to


def is_robustbench(spec: ExternalSpec) -> bool:
    """Whether ``spec`` names a RobustBench model (which downloads its own weights) rather than a factory."""
    return split_target(spec.target)[0] == ROBUSTBENCH


def load_robustbench(
    spec: ExternalSpec, device: torch.device | str = "cpu"
) -> tuple[nn.Module, ExternalModel]:
    """The RobustBench model ``spec`` names, in eval mode on ``device``, and its :class:`ExternalModel`."""
    import torch

    from specreg_cli.checkpoint import file_sha256

    unknown = sorted(set(spec.kwargs) - set(KWARGS))
    if unknown:
        raise SpecregError(
            f"robustbench models take --model-kwargs {', '.join(KWARGS)}, not {', '.join(unknown)}",
            hint="e.g. --model-kwargs threat_model=Linf,model_dir=models",
        )
    options = {**KWARGS, **spec.kwargs}
    name = split_target(spec.target)[1]
    utils = _robustbench_utils()
    model_dir = Path(str(options["model_dir"])).expanduser().resolve()
    try:
        model = utils.load_model(
            model_name=name,
            dataset=DATASET,
            threat_model=str(options["threat_model"]),
            model_dir=str(model_dir),
        )
    except Exception as exc:  # an unknown name, no network, a damaged download: RobustBench's words
        message = (str(exc).strip().splitlines() or [""])[0][:200]
        raise SpecregError(
            f"robustbench could not load {name} ({exc.__class__.__name__}: {message})",
            hint="check the name on robustbench.github.io and that the weights can be downloaded",
        ) from None
    bad = [k for k, t in model.state_dict().items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise SpecregError(f"robustbench model {name} holds non-finite weights (NaN or inf) in {bad[0]}")
    model = wrap(model, spec).to(device).eval()
    check_outputs(model, spec, device)
    path = model_dir / DATASET / str(options["threat_model"]) / f"{name}.pt"  # where RobustBench saves it
    sha256 = file_sha256(path) if path.is_file() else "unknown"
    return model, ExternalModel(path, sha256, spec, module_identity(utils))


def _robustbench_utils():
    import importlib.util

    if importlib.util.find_spec(ROBUSTBENCH) is None:
        raise SpecregError(
            "--model robustbench:NAME needs the robustbench package",
            hint="pip install 'specreg[robustbench]' (or robustbench from its GitHub repository)",
        )
    return import_module(f"{ROBUSTBENCH}.utils")
