"""Rich rendering of a training run: a live progress bar and the end-of-run summary table."""

from __future__ import annotations

from rich.table import Table

from specreg_cli.console import console, make_progress


class RichTrainProgress:
    """Implements specreg_cli.train.TrainProgress with one bar over all steps of the run."""

    def __enter__(self) -> RichTrainProgress:
        self.progress = make_progress()
        self.progress.__enter__()
        self.task = None
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def note(self, text: str) -> None:
        self.progress.console.print(text, highlight=False)

    def start(self, epochs: int, steps_per_epoch: int, first_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.task = self.progress.add_task(
            "train", total=epochs * steps_per_epoch, completed=first_epoch * steps_per_epoch, status=""
        )

    def step(self, epoch: int, step: int, loss: float, acc: float) -> None:
        self.progress.update(
            self.task,
            completed=epoch * self.steps_per_epoch + step,
            description=f"epoch {epoch + 1}",
            status=f"loss {loss:.3f}  acc {acc:.1%}",
        )

    def epoch_end(self, row: dict) -> None:
        masked = (
            ""
            if row["masked_fraction"] != row["masked_fraction"]
            else f"  masked {row['masked_fraction']:.1%}"
        )
        self.progress.console.print(
            f"epoch {row['epoch']:>3}  lr {row['lr']:.4g}  batches {row['batch_acc']:.1%}  "
            f"train {row['train_acc']:.1%}  "
            f"test {row['test_acc']:.1%}  gap {row['gap']:+.1%}  {row['images_per_s']:.0f} img/s{masked}"
        )


def print_outcome(config, result) -> None:
    """The summary table, or one line when the run was already finished and nothing was trained."""
    if result.trained_epochs == 0:
        console.print(
            f"{result.run_dir} is already finished ({config.epochs} of {config.epochs} epochs): nothing "
            "changed (pass a larger --epochs with --resume to extend it)",
            highlight=False,
        )
        return
    print_summary(config, result)


def print_summary(config, result) -> None:
    last = result.metrics[-1]
    table = Table(title=f"{config.method} {config.arch} on {config.dataset}: {result.run_dir}")
    for column in ("epochs", "train acc", "test acc", "gap", "img/s", "masked"):
        table.add_column(column, justify="right")
    masked = "-" if last["masked_fraction"] != last["masked_fraction"] else f"{last['masked_fraction']:.1%}"
    table.add_row(
        str(int(last["epoch"])),
        f"{last['train_acc']:.2%}",
        f"{last['test_acc']:.2%}",
        f"{last['gap']:+.2%}",
        f"{last['images_per_s']:.0f}",
        masked,
    )
    console.print(table)
