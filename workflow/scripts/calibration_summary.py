# Uniformity of the ranks (ArviZ ECDF bands), a verdict per program, calibration.json, figures.
from bayespipe.analyses.calibration import design, verdict
from bayespipe.jobs import job

with job(snakemake) as record:
    programs = verdict.summarize(
        snakemake.input.batches,
        snakemake.params.settings,
        snakemake.output.summary,
        {program: snakemake.output[program] for program in snakemake.params.programs},
        designs={
            d["program"]: design.describe(d)
            for d in map(design.read_design, snakemake.input.designs)
        },
    )
    record["verdicts"] = {name: result["verdict"] for name, result in programs.items()}
