# Simulation-based calibration (SBC) of every Stan program.
# Functions: bayespipe.analyses.calibration. Designs come from the prepared data of the tadpoles
# and Zillow analyses; each {program}/{batch} job simulates, fits and ranks a batch of
# replications, so a cluster spreads them. The calibration_screen checkpoint judges a program's
# screening batches with ArviZ; a flagged program gets as many confirmation batches (independent
# data) and calibration_summary gives each program its two-stage verdict (see verdict.py).

from bayespipe.analyses.calibration import batch as calibration_batch
from bayespipe.analyses.calibration import design as calibration_design
from bayespipe.analyses.calibration import verdict as calibration_verdict

CALIBRATION = config["calibration"]
CALIBRATION_PROGRAMS = [
    *CALIBRATION["programs"],
    *map(calibration_design.model_program, CALIBRATION["models"]),
]
if "calibration" in ENABLED and not CALIBRATION_PROGRAMS:
    raise ValueError(
        "calibration: both calibration.programs and calibration.models are empty"
    )
CALIBRATION_BATCHES = range(
    calibration_batch.batch_count(
        CALIBRATION["replications"], CALIBRATION["batch_size"]
    )
)
CALIBRATION_SAMPLER = CALIBRATION["sampler"]
CALIBRATION_CONFIRMATION_BATCHES = calibration_batch.confirmation_batches(
    CALIBRATION["replications"], CALIBRATION["batch_size"]
)


rule calibration_stan_compile:
    input:
        stan_file=calibration_stan_file,
    output:
        stamp=out("calibration", "stan/{program}.compile.json"),
    log:
        log_path("calibration", "calibration_stan_compile_{program}"),
    benchmark:
        bench_path("calibration", "calibration_stan_compile_{program}")
    wildcard_constraints:
        program="|".join(CALIBRATION_PROGRAMS),
    priority: STAN_COMPILE_PRIORITY
    conda:
        CONDA_ENV
    params:
        engine=STAN_ENGINE,
        cpp_options=config["stan"]["cpp_options"],
        stanc_options=config["stan"]["stanc_options"],
    script:
        "../scripts/stan_compile.py"


rule calibration_design:
    input:
        # The prepared tables a program's design is made from.
        unpack(
            lambda wildcards: calibration_design.design_inputs(
                wildcards.program,
                rules.reedfrogs_prepare.output.table,
                ZILLOW_FILES,
                model_calibration_files,
            )
        ),
    output:
        design=out("calibration", "designs/{program}.json"),
    log:
        log_path("calibration", "calibration_design_{program}"),
    benchmark:
        bench_path("calibration", "calibration_design_{program}")
    wildcard_constraints:
        program="|".join(CALIBRATION_PROGRAMS),
    conda:
        CONDA_ENV
    params:
        scale=CALIBRATION["scale"],
        replications=CALIBRATION["replications"],
    script:
        "../scripts/calibration_design.py"


rule calibration_batch:
    input:
        stan_file=calibration_stan_file,
        stamp=rules.calibration_stan_compile.output.stamp,
        design=rules.calibration_design.output.design,
    output:
        batch=out("calibration", "batches/{program}/{batch}.json"),
    log:
        log_path("calibration", "calibration_batch_{program}_{batch}"),
    benchmark:
        bench_path("calibration", "calibration_batch_{program}_{batch}")
    wildcard_constraints:
        program="|".join(CALIBRATION_PROGRAMS),
        batch=r"\d+",
    conda:
        CONDA_ENV
    resources:
        cpus_per_task=chains_at_once(CALIBRATION_SAMPLER),
    params:
        engine=STAN_ENGINE,
        settings=CALIBRATION,
    script:
        "../scripts/calibration_batch.py"


checkpoint calibration_screen:
    input:
        batches=expand(
            out("calibration", "batches/{{program}}/{batch}.json"),
            batch=CALIBRATION_BATCHES,
        ),
    output:
        screen=out("calibration", "screens/{program}.json"),
    log:
        log_path("calibration", "calibration_screen_{program}"),
    benchmark:
        bench_path("calibration", "calibration_screen_{program}")
    wildcard_constraints:
        program="|".join(CALIBRATION_PROGRAMS),
    conda:
        CONDA_ENV
    params:
        settings=CALIBRATION,
    script:
        "../scripts/calibration_screen.py"


rule calibration_summary:
    input:
        screens=expand(
            out("calibration", "screens/{program}.json"), program=CALIBRATION_PROGRAMS
        ),
        batches=expand(
            out("calibration", "batches/{program}/{batch}.json"),
            program=CALIBRATION_PROGRAMS,
            batch=CALIBRATION_BATCHES,
        ),
        # Confirmation batches of the programs their screening flagged; one checkpoint per
        # program, so a flagged program's confirmation starts without waiting for the others.
        confirmation=lambda wildcards: [
            out("calibration", f"batches/{program}/{batch}.json")
            for program in CALIBRATION_PROGRAMS
            if calibration_verdict.to_confirm(
                checkpoints.calibration_screen.get(program=program).output.screen
            )
            for batch in CALIBRATION_CONFIRMATION_BATCHES
        ],
        designs=expand(
            out("calibration", "designs/{program}.json"), program=CALIBRATION_PROGRAMS
        ),
    output:
        **{
            program: report(
                out("calibration", f"figures/{program}.png"),
                caption="../report/calibration_ecdf.rst",
                category=ANALYSES["calibration"].title,
                labels={"program": program, "figure": "SBC rank ECDF"},
            )
            for program in CALIBRATION_PROGRAMS
        },
        summary=out("calibration", "calibration.json"),
    log:
        log_path("calibration", "calibration_summary"),
    benchmark:
        bench_path("calibration", "calibration_summary")
    conda:
        CONDA_ENV
    params:
        settings=CALIBRATION,
        programs=CALIBRATION_PROGRAMS,
    script:
        "../scripts/calibration_summary.py"


FINAL_TARGETS.setdefault("calibration", []).extend(rules.calibration_summary.output)
