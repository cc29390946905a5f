from bayespipe.analyses.mnist import lenet
from bayespipe.jobs import job

with job(snakemake) as record:
    out = snakemake.output
    summary = lenet.ood_and_report(
        snakemake.input.split,
        snakemake.input.weights,
        dict(snakemake.params.settings),
        dict(snakemake.params.tfp),
        metrics=out.metrics,
        scores=out.scores,
        noise_figure=out.noise_figure,
    )
    record["device"] = summary["device"]
    record["auroc"] = summary["auroc"]
