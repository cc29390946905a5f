# Screening verdict of one program; a flagged one gets confirmation fits (calibration.smk).
from bayespipe.analyses.calibration import verdict
from bayespipe.jobs import job

with job(snakemake) as record:
    verdict.screen(snakemake.input.batches, snakemake.params.settings, snakemake.output.screen)
    record["to_confirm"] = verdict.to_confirm(snakemake.output.screen)
