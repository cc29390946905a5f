# Analysis C: reed-frog tadpoles, varying intercepts (Stan).


rule reedfrogs_prepare:
    input:
        csv=config["reedfrogs"]["path"],
    output:
        table=out("tadpoles", "data/reedfrogs.parquet"),
    log:
        log_path("tadpoles", "reedfrogs_prepare"),
    benchmark:
        bench_path("tadpoles", "reedfrogs_prepare")
    conda:
        CONDA_ENV
    script:
        "../scripts/reedfrogs_prepare.py"


FINAL_TARGETS["tadpoles"] = rules.reedfrogs_prepare.output
