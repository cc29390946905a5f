# Screening verdict of every program; flagged ones get confirmation fits (calibration.smk).
from bayespipe.analyses.calibration import verdict
from bayespipe.jobs import job

with job(snakemake) as record:
    screened = verdict.screen(
        snakemake.input.batches, snakemake.params.settings, snakemake.output.screen
    )
    record["to_confirm"] = sorted(p for p, s in screened.items() if s["confirm"])
