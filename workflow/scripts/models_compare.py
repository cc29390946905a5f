# PSIS-LOO comparison of the model blocks of one `comparisons:` entry (ArviZ compare, stacking).
from bayespipe.analyses.models import compare
from bayespipe.jobs import job

with job(snakemake) as record:
    summary = compare.compare(
        snakemake.wildcards.comparison,
        snakemake.params.blocks,
        list(snakemake.input.posteriors),
        list(snakemake.input.loo),
        snakemake.output.table,
        snakemake.output.figure,
        snakemake.output.summary,
    )
    record["comparison"] = {k: summary[k] for k in ("leader", "decisive", "weights", "headline")}
