# Analysis D2: Bayesian LeNet-5 with Flipout layers on MNIST (TensorFlow Probability).

from bayespipe.analyses.mnist import network as mnist_network
from bayespipe.analyses.mnist import plots as mnist_plots

MNIST = config["mnist"]
MNIST_TITLE = ANALYSES["mnist"].title
MNIST_EVAL_STEPS = mnist_network.evaluation_steps(MNIST["steps"], MNIST["viz_steps"])


# With source keras, data preparation downloads mnist.npz: under a cluster executor it runs on
# the submitting host, since compute nodes often have no internet (it takes seconds).
if config["mnist"]["source"] == "keras":

    localrules:
        mnist_prepare,


rule mnist_prepare:
    input:
        # only the npz source reads a local file; keras downloads into mnist.cache_dir
        npz=[MNIST["npz_path"]] if MNIST["source"] == "npz" else [],
    output:
        split=out("mnist", "data/mnist_split.npz"),
    log:
        log_path("mnist", "mnist_prepare"),
    benchmark:
        bench_path("mnist", "mnist_prepare")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    params:
        settings=MNIST,
    script:
        "../scripts/mnist_prepare.py"


rule mnist_train:
    input:
        split=rules.mnist_prepare.output.split,
    output:
        weights=out("mnist", "train/lenet.weights.h5"),
        history=out("mnist", "train/history.csv"),
        evaluations=out("mnist", "train/evaluations.csv"),
        metrics=out("mnist", "train/metrics.json"),
        history_figure=report(
            out("mnist", "train/figures/history.png"),
            caption="../report/mnist_history.rst",
            category=MNIST_TITLE,
            subcategory="training",
        ),
        # every evaluation's figures, in the report under "step N"
        weight_figures=[
            report(
                out("mnist", f"train/figures/{mnist_plots.figure_name('weights', s)}"),
                caption="../report/mnist_weights.rst",
                category=MNIST_TITLE,
                subcategory=f"step {s}",
            )
            for s in MNIST_EVAL_STEPS
        ],
        heldout_figures=[
            report(
                out("mnist", f"train/figures/{mnist_plots.figure_name('heldout', s)}"),
                caption="../report/mnist_heldout.rst",
                category=MNIST_TITLE,
                subcategory=f"step {s}",
            )
            for s in MNIST_EVAL_STEPS
        ],
    log:
        log_path("mnist", "mnist_train"),
    benchmark:
        bench_path("mnist", "mnist_train")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        settings=MNIST,
        tfp=config["tfp"],
    script:
        "../scripts/mnist_train.py"


rule mnist_ood:
    input:
        split=rules.mnist_prepare.output.split,
        weights=rules.mnist_train.output.weights,
    output:
        metrics=out("mnist", "ood/metrics.json"),
        scores=out("mnist", "ood/scores.csv"),
        noise_figure=report(
            out("mnist", "ood/noise.png"),
            caption="../report/mnist_noise.rst",
            category=MNIST_TITLE,
            subcategory="out of distribution",
        ),
    log:
        log_path("mnist", "mnist_ood"),
    benchmark:
        bench_path("mnist", "mnist_ood")
    priority: CHAIN_PRIORITY
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=config["tfp"]["threads"],
        gpu=1 if config["tfp"]["device"] == "gpu" else 0,
    params:
        settings=MNIST,
        tfp=config["tfp"],
    script:
        "../scripts/mnist_ood.py"


FINAL_TARGETS.setdefault("mnist", []).extend(
    [
        *rules.mnist_train.output,
        *rules.mnist_ood.output,
    ]
)
