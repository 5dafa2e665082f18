"""Model registry. Importing this package registers every architecture.

from specreg_cli.models import create_model, list_models
"""

from specreg_cli.models import lenet, resnet  # noqa: F401  (registration side effect)
from specreg_cli.models.registry import create_model, list_models, register_model

__all__ = ["create_model", "list_models", "register_model"]
