"""specreg as a Python library, for notebooks: the same evaluations as the CLI, on any model.

Six names, each with an example in its docstring:

- :func:`load_model`: a specreg run (``"runs/natural"``) or any other model
  (``"torchvision.models:resnet18"`` with ``weights=``, a saved state_dict) -> :class:`Model`.
- :func:`evaluate_corruptions`: clean accuracy and accuracy per (corruption, severity).
- :func:`robust_accuracy`: accuracy under a registered attack (torchattacks) at each eps, with the
  gradient-masking sanity checks as records.
- :func:`read_results`: results files or folders -> one pandas DataFrame.
- :func:`write_report`: the paper's Table 2 and the rest of ``specreg report``, as Markdown or CSV.

Results are the CLI's: the same records (one row per run, condition, severity, metric), the same
provenance, and with ``out=`` the same results files, so ``specreg report`` reads them too. Nothing is
printed. Importing ``specreg`` is fast and loads no torch: each name is imported when first used.

Example::

    import specreg
    model = specreg.load_model("runs/natural")
    frame = specreg.evaluate_corruptions(model, ["fog"], severities=[3], n_examples=200)
"""

from __future__ import annotations

from importlib import import_module

from specreg_cli import __version__  # one version for the CLI and the library (a constant: no torch)

# name -> the submodule that defines it (imported on first use: torch and pandas load only then)
_HOMES = {
    "Model": "specreg.model",
    "load_model": "specreg.model",
    "evaluate_corruptions": "specreg.evaluation",
    "robust_accuracy": "specreg.evaluation",
    "read_results": "specreg.reporting",
    "write_report": "specreg.reporting",
}
__all__ = [*_HOMES, "__version__"]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'specreg' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
