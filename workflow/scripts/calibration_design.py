# The fixed design of one program's simulated data sets, from the prepared data, scaled down.
from bayespipe.analyses.calibration import design
from bayespipe.jobs import job

with job(snakemake) as record:
    made = design.make_design(
        snakemake.wildcards.program,
        dict(snakemake.input.items()),
        snakemake.params.scale,
        snakemake.output.design,
        replications=snakemake.params.replications,
    )
    record["design"] = design.describe(made)
