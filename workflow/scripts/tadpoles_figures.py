# The tutorial's figures: per-tank logits, survival against propsurv, shrinkage, predictive check.
from bayespipe.analyses.tadpoles import model as tadpoles
from bayespipe.jobs import job

with job(snakemake) as record:
    by_density = tadpoles.figures(
        snakemake.input.posterior,
        snakemake.input.table,
        {name: snakemake.output[name] for name in tadpoles.FIGURES},
    )
    record["mean_abs_shrinkage_by_density"] = by_density
