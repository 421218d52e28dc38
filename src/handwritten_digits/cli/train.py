"""`digits models|train|evaluate`: the model registry, training runs and their evaluation."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from handwritten_digits.cli.app import err, out
from handwritten_digits.errors import DigitsError


@click.command("models")
@click.argument("name", required=False)
def models_cmd(name: str | None) -> None:
    """List registered models, or show one model's layer table."""
    from handwritten_digits.models import count_parameters, create_model, get_entry, list_models
    from handwritten_digits.models.summary import summary
    if name is None:
        table = Table("model", "parameters", "description")
        for n in list_models():
            table.add_row(n, f"{count_parameters(create_model(n)):,}", get_entry(n).description)
        out.print(table)
        return
    rows, total = summary(create_model(name))
    table = Table("layer (type)", "output shape", "params", title=f"Model: {name}")
    for layer, shape, params in rows:
        table.add_row(layer, str(shape), f"{params:,}")
    out.print(table)
    out.print(f"Total params: {total:,}")


class RichReporter:
    """Progress bar per epoch (loss, accuracy, images/s) and a summary line per epoch."""

    def __init__(self) -> None:
        self.progress: Progress | None = None

    def epoch_start(self, epoch: int, epochs: int, steps: int) -> None:
        self.progress = Progress(
            TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), TextColumn("{task.completed}/"
            "{task.total}"), TextColumn("{task.fields[stats]}"), TimeElapsedColumn(),
            TimeRemainingColumn(), console=err, transient=True)
        self.progress.start()
        self.task = self.progress.add_task("train", total=steps, stats="")
        self.seen = self.correct = 0
        self.loss = 0.0
        self.start = time.perf_counter()

    def step(self, images: int, loss: float, correct: int) -> None:
        self.seen += images
        self.correct += correct
        self.loss = loss if self.seen == images else 0.98 * self.loss + 0.02 * loss
        rate = self.seen / max(1e-9, time.perf_counter() - self.start)
        assert self.progress is not None
        self.progress.update(self.task, advance=1, stats=(
            f"loss {self.loss:.4f} acc {self.correct / self.seen:.4f} {rate:,.0f} img/s"))

    def epoch_end(self, r: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress.stop()
        test = f" test {r['test_acc']:.4f}" if "test_acc" in r else ""
        err.print(f"epoch {r['epoch']}: train loss {r['train_loss']:.4f} acc {r['train_acc']:.4f}"
                  f" | val loss {r['val_loss']:.4f} acc {r['val_acc']:.4f}{test}"
                  f" | {r['epoch_time_s']:.1f}s ({r['images_per_s']:,.0f} img/s)")


def _positive(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be > 0 (got {value})")
    return value


@click.command()
@click.option("--recipe", help="A named recipe (see --list-recipes); flags override its fields.")
@click.option("--model", help="Registered model name (default seed-cnn).")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="A model argument, e.g. kernel=5 (repeatable; merges into the recipe's).")
@click.option("--dataset", help="mnist, fashion-mnist, or a folder of IDX files.")
@click.option("--epochs", type=int, callback=_positive)
@click.option("--batch-size", type=int, callback=_positive, help="Images per step per process.")
@click.option("--lr", type=float, callback=_positive, help="Peak learning rate.")
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]))
@click.option("--weight-decay", type=float)
@click.option("--schedule", type=click.Choice(["constant", "onecycle", "cosine", "exp"]))
@click.option("--label-smoothing", type=float)
@click.option("--augment", help="Augmentation policy name, or none.")
@click.option("--flag", type=float, help="Share of the 1s given a European flag (0-1).")
@click.option("--precision", type=click.Choice(["fp32", "bf16"]))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]))
@click.option("--threads", type=int, callback=_positive, help="Torch threads (default: all).")
@click.option("--out", type=click.Path(), help="Run folder (default runs/NAME-sSEED-TIME).")
@click.option("--resume", "resume_run", type=click.Path(), help="Continue a stopped run.")
@click.option("--nproc", type=int, callback=_positive, help="Data-parallel processes (torchrun).")
@click.option("--dry-run", is_flag=True, help="1 epoch on 512 images: checks the pipeline fast.")
@click.option("--no-report", is_flag=True, help="Skip the HTML report at the end.")
@click.option("--list-recipes", is_flag=True, help="Print the recipes and exit.")
def train(recipe: str | None, resume_run: str | None, nproc: int | None, dry_run: bool,
          no_report: bool, list_recipes: bool, **flags: Any) -> None:
    """Train a model; writes a run folder with metrics, weights and a checkpoint."""
    from handwritten_digits import recipes
    if list_recipes:
        for name, versions in recipes.RECIPES.items():
            for version, fields in versions.items():
                out.print(f"{name}@{version}: {json.dumps(fields)}")
        return
    from handwritten_digits.context import is_main_process, resolve_device
    from handwritten_digits.train import fit
    resume = resume_run is not None
    if resume:
        config = _resumed_config(resume_run)
    else:
        model_args = recipes.parse_model_args(flags["model_args"]) or None
        config = recipes.recipe_config(recipe or "seed", **{**flags, "model_args": model_args})
    if nproc and nproc > 1:
        resolve_device(config.device, nproc)  # too few GPUs: one line here, not a traceback per process
        _torchrun(nproc)
        return
    if dry_run:
        config.epochs, config.limit_train = 1, 512
    run = fit(config, RichReporter() if is_main_process() else None, resume=resume)
    if not is_main_process():
        return
    _print_run_summary(run)
    if not (no_report or dry_run):
        _try_report(run)


def _resumed_config(run: str):  # noqa: ANN202
    from handwritten_digits.train import TrainConfig
    path = Path(run) / "config.json"
    try:
        config = TrainConfig.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise DigitsError(f"{run}: not a run folder (no config.json)") from None
    except json.JSONDecodeError as e:
        raise DigitsError(f"{path}: corrupt ({e})") from None
    config.out = str(run)
    return config


def _torchrun(nproc: int) -> None:
    """Re-run this same `digits train` command under torchrun with `nproc` processes."""
    import subprocess
    argv = []
    for name, value in click.get_current_context().params.items():
        if name == "nproc" or value is None or value is False or value == ():
            continue
        flag = "--" + {"resume_run": "resume", "model_args": "model_arg"}.get(name, name).replace(
            "_", "-")
        values = value if isinstance(value, tuple) else (value,)
        argv += [flag] if value is True else [x for v in values for x in (flag, str(v))]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           f"--nproc-per-node={nproc}", "-m", "handwritten_digits.train", *argv]
    raise SystemExit(subprocess.call(cmd))


def _print_run_summary(run: Path) -> None:
    from handwritten_digits.train import read_metrics
    history = read_metrics(run)
    if not history:
        return
    best = max(history, key=lambda r: r["val_acc"])
    last = history[-1]
    test = f", test accuracy {best['test_acc']:.4f}" if "test_acc" in best else ""
    out.print(f"best epoch {best['epoch']}: val accuracy {best['val_acc']:.4f}{test}")
    out.print(f"training time {last['train_time_s']:.1f}s; run folder: {run}")


def _try_report(run: Path) -> None:
    from handwritten_digits.report import write_report
    out.print(f"report: {write_report(run)}")


@click.command()
@click.argument("models", nargs=-1)
@click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True)
@click.option("--dataset", default=None, help="Default: the model's own data set.")
@click.option("--tta", is_flag=True, help="Average predictions over shifted copies.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(models: tuple[str, ...], split: str, dataset: str | None, tta: bool,
             as_json: bool) -> None:
    """Evaluate a run folder or model file (several: an ensemble; none: the default model)."""
    from handwritten_digits.evaluate import evaluate_models
    result = evaluate_models(list(models) or [None], split=split, dataset=dataset, tta=tta)
    if as_json:
        out.print_json(json.dumps(result)) if sys.stdout.isatty() else print(json.dumps(result))
        return
    out.print(f"{result['model']} on {result['dataset']}/{split}: accuracy "
              f"{result['accuracy']:.4f} ({result['errors']} errors of {result['n']}), "
              f"loss {result['loss']:.4f}")
    table = Table("class", "precision", "recall", "f1", "support")
    for name, m in result["per_class"].items():
        table.add_row(name, f"{m['precision']:.4f}", f"{m['recall']:.4f}", f"{m['f1']:.4f}",
                      str(m["support"]))
    out.print(table)


@click.command()
@click.argument("model")
def calibrate(model: str) -> None:
    """Fit temperature scaling on the validation split and store it in the model's sidecar."""
    from handwritten_digits.runs import calibrate as fit
    summary = fit(model)
    out.print(f"temperature {summary['val']['temperature']:.3f}; ECE (15 bins) on val "
              f"{summary['val']['ece_before']:.4f} -> {summary['val']['ece_after']:.4f}, on test "
              f"{summary['test']['ece_before']:.4f} -> {summary['test']['ece_after']:.4f}")


@click.command()
@click.argument("models", nargs=-1, required=True)
@click.option("--out", "out_path", required=True, type=click.Path(), help="Output .safetensors file.")
def ensemble(models: tuple[str, ...], out_path: str) -> None:
    """Combine trained models into one ensemble file usable wherever a model is."""
    from handwritten_digits.modelio import read_sidecar
    from handwritten_digits.models.ensemble import build_ensemble
    from handwritten_digits.runs import calibrate as fit
    path = build_ensemble(list(models), out_path)
    fit(path)
    gate = read_sidecar(path).get("gate")
    carried = f" with the first gated member's gate (threshold {gate['threshold']})" if gate else ", no gate"
    out.print(f"ensemble of {len(models)} written to {path}{carried}")
