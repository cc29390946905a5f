from bayespipe.analyses.mnist import lenet
from bayespipe.jobs import job

with job(snakemake) as record:
    out = snakemake.output
    summary = lenet.train_and_report(
        snakemake.input.split,
        dict(snakemake.params.settings),
        dict(snakemake.params.tfp),
        weights=out.weights,
        history=out.history,
        evaluations=out.evaluations,
        metrics=out.metrics,
        history_figure=out.history_figure,
        weight_figures=list(out.weight_figures),
        heldout_figures=list(out.heldout_figures),
    )
    record["device"] = summary["device"]
    record["heldout_accuracy"] = summary["heldout_accuracy"]
    record["heldout_log_prob"] = summary["heldout_log_prob"]
    record["train_seconds"] = summary["train_seconds"]
