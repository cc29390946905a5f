# Compile one Stan program once; every fit of it takes the stamp as input.
from bayespipe.engines.stan.engine import get_engine
from bayespipe.jobs import job

with job(snakemake, stan_file=snakemake.input.stan_file) as record:
    engine = get_engine(snakemake.params.engine)
    stamp = engine.compile(
        snakemake.input.stan_file,
        snakemake.output.stamp,
        cpp_options=snakemake.params.cpp_options,
        stanc_options=snakemake.params.stanc_options,
    )
    record["engine"] = stamp["versions"]
    record["compile"] = {
        k: stamp.get(k)
        for k in (
            "model_name",
            "exe_file",
            "exe_sha256",
            "compile_seconds",
            "cpp_options",
            "stanc_options",
        )
    }
