"""specreg: does a learnable binarised spectral mask make CIFAR ResNet-20s more robust?

The CLI lives in :mod:`specreg_cli.cli`; the library pieces are importable on their own
(models, data, spectral, train, evaluate, attack, results, report).
"""

__version__ = "0.1.0"
