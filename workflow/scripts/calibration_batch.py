# One batch of SBC replications of one Stan program: simulate from the prior, fit, rank.
from bayespipe.analyses.calibration import batch
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.stan_file) as record:
    settings = dict(snakemake.params.settings)  # parallel_chains as configured
    result = batch.run_batch(
        snakemake.wildcards.program,
        int(snakemake.wildcards.batch),
        stan_file=snakemake.input.stan_file,
        stamp=snakemake.input.stamp,
        design_path=snakemake.input.design,
        settings=settings,
        engine=snakemake.params.engine,
        destination=snakemake.output.batch,
    )
    record["engine"] = result["engine"]
    record["failed_fits"] = sum(r["status"] == "failed" for r in result["replications"])
    record["sampling_seconds"] = sum(r.get("sampling_seconds", 0) for r in result["replications"])
