# Two-stage verdict per program (ArviZ ECDF bands), calibration.json and a figure per program.
from bayespipe.analyses.calibration import design, verdict
from bayespipe.jobs import job

with job(snakemake) as record:
    programs = verdict.summarize(
        [*snakemake.input.batches, *snakemake.input.confirmation],
        snakemake.params.settings,
        snakemake.output.summary,
        {program: snakemake.output[program] for program in snakemake.params.programs},
        designs={
            d["program"]: design.describe(d)
            for d in map(design.read_design, snakemake.input.designs)
        },
    )
    record["verdicts"] = {name: result["verdict"] for name, result in programs.items()}
