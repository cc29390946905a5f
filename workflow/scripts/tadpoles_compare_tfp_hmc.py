# Optional: sample the same model with TFP's HMC (the tutorial's settings) and compare with NUTS.
from bayespipe.analyses.tadpoles import tfp_hmc as tadpoles_hmc
from bayespipe.jobs import job

with job(snakemake) as record:
    result = tadpoles_hmc.compare(
        snakemake.input.table,
        snakemake.input.metrics,
        snakemake.input.posterior,
        snakemake.output.comparison,
        snakemake.output.summary,
        snakemake.output.trace,
        hmc=snakemake.params.hmc,
        tfp_config=snakemake.params.tfp,
        threads=snakemake.params.tfp["threads"],  # TensorFlow's, not the job's declared
    )
    record["device"] = result["device"]
    record["comparison"] = result["rows"]
    record["hmc_seconds"] = result["rows"][-1]["wall_seconds"]  # this job's sampling
