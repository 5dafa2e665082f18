"""``--cifar10c-dir`` with ``--download``, for the commands that read the released CIFAR-10-C files
(``eval-corruptions``, ``reproduce``): open the folder, or first fetch the release into it with a progress
bar (the library, :func:`specreg_cli.data.cifar10c.open_cifar10c`, does the work and never prints)."""

from __future__ import annotations

from pathlib import Path


def open_folder(cifar10c_dir: Path | None, download: bool, data_dir: Path):
    """The :class:`~specreg_cli.data.cifar10c.Cifar10CFolder` at ``cifar10c_dir`` (None without one); with
    ``download`` and no ``labels.npy`` there, the released archive is fetched through ``data_dir`` first."""
    if cifar10c_dir is None:
        return None
    from specreg_cli.console import make_download_progress
    from specreg_cli.data import cifar10c

    if not download or (cifar10c_dir.expanduser() / "labels.npy").exists():
        return cifar10c.Cifar10CFolder(cifar10c_dir)
    with make_download_progress() as progress:
        task = progress.add_task(f"CIFAR-10-C -> {data_dir}", total=None)

        def report(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        return cifar10c.open_cifar10c(cifar10c_dir, download=True, data_dir=data_dir, progress=report)
