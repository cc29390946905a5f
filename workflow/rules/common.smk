# Shared set-up for all rule files (validated config, version folder, path helpers).

import datetime
import os
import sys
from pathlib import Path

# The code that runs is the code the version id hashes: this checkout's package, for the
# Snakefile and (through PYTHONPATH) for every script and cluster job, whatever is installed.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_DIR)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        [PACKAGE_DIR, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
)

from bayespipe import codedeps, jobkeys, runlock, software, versioning
from bayespipe.audit.rocrate import write_crate
from bayespipe.catalog import ANALYSES, REPORT_DIR
from bayespipe.catalog import LOADED_PACKAGES as catalog_packages
from bayespipe.catalog import rule_files as catalog_rule_files
from bayespipe.config import validate_config
from bayespipe.engines.stan.engine import ENGINE_MODULES, sampler_settings
from bayespipe.console import shorten_job_lines
from bayespipe.io import HashCache
from bayespipe.jobs import RUN_VERSION_ENV, WORKFLOW_ROOT_ENV, job_key
from bayespipe.provenance import write_manifest
from snakemake.exceptions import WorkflowError
from snakemake.iocontainers import InputFiles, Wildcards

validate_config(config)
shorten_job_lines()  # no job block lists hundreds of files on one console line

ROOT = Path(workflow.basedir)
RESULTS = config["results_dir"]
WORK_DIR = versioning.work_dir(RESULTS, config)
STAN_ENGINE = software.resolve_stan_engine(config["stan"]["engine"])
SOFTWARE = software.software_versions()
ENABLED = [name for name in config["analyses"] if name in ANALYSES]
STARTED = datetime.datetime.now(datetime.timezone.utc).isoformat()
SNAKEMAKE_DIR = ROOT / ".snakemake"
os.environ[WORKFLOW_ROOT_ENV] = str(ROOT)

if workflow.is_main_process and not workflow.dryrun:
    message = runlock.clear_stale_locks(SNAKEMAKE_DIR)
    if message:
        print(message, file=sys.stderr)
if workflow.is_main_process:
    try:  # one run per work tree at a time; other run labels go on side by side
        runlock.hold_work_tree(WORK_DIR)
    except runlock.RunInProgress as error:
        raise WorkflowError(str(error))


def out(analysis, path):
    """A result file of an analysis, in the work tree (linked into the version on success)."""
    return f"{WORK_DIR}/{analysis}/{path}"


def log_path(analysis, job):
    return f"{WORK_DIR}/{analysis}/logs/{job}.log"


def bench_path(analysis, job):
    return f"{WORK_DIR}/{analysis}/benchmarks/{job}.tsv"


FINAL_TARGETS = {}  # analysis -> list of files; each rule file registers its own


def run_targets():
    """Every file the enabled analyses and the report must produce."""
    return [
        f for name in ENABLED for f in FINAL_TARGETS.get(name, [])
    ] + FINAL_TARGETS.get(REPORT_DIR, [])


# `snakemake --report` collects the figures of the jobs behind the targets: it needs them all.
REPORTING = any(arg == "--report" or arg.startswith("--report=") for arg in sys.argv)


def final_targets():
    """The inputs of the target `all`: the run's targets, or, when this version is complete,
    only its manifest, which exists (so nothing runs and the folder is never touched again).
    """
    if versioning.is_complete(RESULTS, VERSION.id) and not REPORTING:
        return [f"{VERSION_DIR}/manifest.json"]
    return run_targets()


def rule_scripts():
    """Rule name -> script path relative to the workflow root (for the manifest)."""
    scripts = {}
    for each in workflow.rules:
        script = getattr(each, "script", None)
        if script:
            path = Path(str(each.basedir)) / str(script)
            scripts[each.name] = os.path.relpath(path, ROOT)
    return scripts


def rule_analysis(each):
    """The analysis folder a rule writes into (from its first output), or None."""
    work_parts = Path(WORK_DIR).parts
    for item in each.output:
        parts = Path(str(item)).parts
        if parts[: len(work_parts)] == work_parts and len(parts) > len(work_parts):
            return parts[len(work_parts)]
    return None


def job_code_keys():
    """Give each job a ``job_code`` param: the sha256 of its rule text, script and imported
    package modules, plus the software (and, for Stan rules, the Stan engine). Snakemake's
    params trigger then reruns exactly the jobs whose code changed. Returns the code files
    the enabled analyses' jobs use."""
    package_dir = ROOT / "workflow" / "bayespipe"
    engine = software.stan_engine_info(STAN_ENGINE)
    software_digest = versioning.digest(SOFTWARE)
    # get_engine imports the resolved engine's module by name: that one is in a Stan job's code;
    # the catalog imports every analysis package by name: each declaration is in its readers'.
    loaded_by_name = {
        "bayespipe.engines.stan.engine": [ENGINE_MODULES[STAN_ENGINE][0]],
        "bayespipe.catalog": list(catalog_packages),
    }
    scripts = rule_scripts()
    used = {}
    for each in workflow.rules:
        if rule_analysis(each) not in (*ENABLED, REPORT_DIR):
            continue  # rules of disabled analyses never run (and their code need not exist)
        script = scripts.get(each.name)
        code = codedeps.job_code(
            ROOT,
            each.name,
            each.snakefile,
            ROOT / script if script else None,
            package_dir,
            lineno=each.lineno,
            dynamic=loaded_by_name,
        )
        key = {"code": code, "software": software_digest}
        if any(path.startswith("workflow/bayespipe/engines/stan/") for path in code):
            key["stan_engine"] = engine
        each.set_params(job_code=key)
        used.update({k: v for k, v in code.items() if not k.startswith("rule ")})
    return used


def enabled_rules():
    """Names of the rules this run may execute (those of its analyses and the report)."""
    return [
        each.name
        for each in workflow.rules
        if rule_analysis(each) in (*ENABLED, REPORT_DIR)
    ]


def current_job_key(record):
    """The key the job of a job record would run with now (its params, as the job sees them)."""
    each = workflow.get_rule(record["rule"])
    wildcards = Wildcards(fromdict=record.get("wildcards") or {})
    output, _ = each.expand_output(wildcards)
    inputs = InputFiles(list(record.get("inputs", {})))
    params, _ = each.expand_params(wildcards, inputs, output, None)
    return job_key(dict(params.items()))


def in_this_run(record):
    """Whether this run can still make a recorded job's outputs.

    Not when its wildcard is a removed config block (its name no longer matches the wildcard
    constraints of the job's rule).
    """
    each = workflow.get_rule(record["rule"])
    return all(each.is_producer(path) for path in record.get("outputs", []))


def rerun_stale_jobs():
    """Mark jobs whose recorded key differs from the current one (see bayespipe.jobkeys), so
    they rerun whether or not .snakemake/ holds their metadata."""
    try:
        found = jobkeys.check_work_tree(
            WORK_DIR, enabled_rules(), current_job_key, root=ROOT, in_run=in_this_run
        )
    except jobkeys.UnknownJobKey as error:
        raise WorkflowError(str(error))
    if found.summary():
        print(found.summary(), file=sys.stderr)


def workflow_code(job_code):
    """The code a run depends on: the Python modules its jobs import or the Snakefile loads
    while parsing, and every other code file (rule files, schemas, Stan programs, templates,
    report data and captions). Python modules nothing imports (the CLI, the audit tools) do
    not change the version."""
    parse_time = codedeps.loaded_package_modules(ROOT, sys.modules)
    hashes = HashCache(SNAKEMAKE_DIR / "bayespipe-hashes.json")
    files = {
        rel: hashes.sha256(ROOT / rel)
        for rel in versioning.code_files(ROOT)
        if rel in parse_time or not rel.endswith(".py")
    }
    return {**files, **job_code}


def seal_version():
    """Called once all rules are defined. Sets the job code keys, then the version id."""
    global VERSION, VERSION_DIR
    VERSION = versioning.compute_version(
        ROOT,
        config,
        SOFTWARE,
        workflow_code(job_code_keys()),
        engines={"stan": software.stan_engine_info(STAN_ENGINE)},
        hash_cache=SNAKEMAKE_DIR / "bayespipe-hashes.json",
    )
    VERSION_DIR = f"{RESULTS}/{VERSION.id}"
    os.environ[RUN_VERSION_ENV] = VERSION.id
    if workflow.is_main_process:
        done = versioning.is_complete(RESULTS, VERSION.id)
        print(
            f"bayespipe: version {VERSION.id} -> {VERSION_DIR}"
            + (" (complete: nothing to do)" if done else ""),
            file=sys.stderr,
        )
        if done and not workflow.dryrun:
            versioning.finish_latest_move(RESULTS, VERSION.id)
        if not done:
            rerun_stale_jobs()
            # A run stopped between its last job and its manifest left nothing to do but the
            # manifest, and Snakemake calls no onsuccess when nothing is to be done: the code
            # snapshot (and with it the report) reruns, so every incomplete version is finished.
            jobkeys.mark_stale(rules.report_code_snapshot.output)


# Stan compiles start before anything else, two at a time on two cores: every fit waits for one,
# a first compile takes minutes of one core (about 50 s under PyStan), and a cached one about a
# second. A models: block's data job comes first of all (its compile waits for its checks).
STAN_COMPILE_PRIORITY = 50
# Next, the longest chains of jobs: the Zillow data chain its fits wait for and the MNIST chain
# (the default run's critical path). A free core takes them before the short jobs beside them
# (fits of small models, figures, summaries), so the run does not end on a chain started late.
CHAIN_PRIORITY = 10

# Threads: every job declares one (Snakemake's default), so `--cores 2` runs two jobs at once.
# A Stan fit still samples `parallel_chains` chains at once and a network trains on tfp.threads
# TensorFlow threads, but only for part of its wall (start-up, conversion, summaries and figures
# run on one thread); where two such phases meet, the OS shares the cores. Declaring that peak
# held both cores for the whole job, so the default run went one job at a time (issue 30), and a
# job declaring 2 among jobs declaring 1 waits until no 1-thread job is ready. Results never
# depend on it: draws are fixed by seed and chain, a network's threads are tfp.threads. On a
# cluster a job asks for the CPUs of its peak (`resources: cpus_per_task`, profiles/slurm).


def chains_at_once(sampler):
    """The chains a Stan fit samples at once: its CPUs at the peak."""
    settings = sampler_settings(sampler)
    return min(settings["parallel_chains"], settings["chains"])


CONDA_ENV = "../envs/bayespipe.yaml"  # the pinned environment, for --software-deployment-method conda


def run_info():
    """What the manifest records about this run besides its files."""
    return {
        "version": VERSION.id,
        "digest": VERSION.digest,
        "analyses": ENABLED,
        "command_line": sys.argv,
        "start_time": STARTED,
        "executor": (
            workflow.executor_plugin.name if workflow.executor_plugin else "local"
        ),
        "config": config,
        "software": SOFTWARE,
        "stan_engine": software.stan_engine_info(STAN_ENGINE),
        "code": VERSION.code,
        "data": VERSION.data,
        "work_dir": WORK_DIR,
    }


def write_version_manifest():
    """Called on success: link the run's files from the work tree into its version folder,
    write the manifest (then the RO-Crate, which describes the whole run) and point
    results/latest at it."""
    versioning.crash_point("before-snapshot")
    # A run of chosen targets (or --until) gives a partial version: listed as such in its
    # manifest, so the next full run of the same version completes it instead of skipping it.
    missing = [f for f in run_targets() if not os.path.exists(f)]
    count = versioning.snapshot(WORK_DIR, VERSION_DIR, run_targets())
    info = {**run_info(), "complete": not missing}
    # One line: a keyword argument named like a Snakemake directive must not start a line.
    write_manifest(
        VERSION_DIR, workdir=ROOT, rule_scripts=rule_scripts(), run_info=info
    )
    if config["report"]:
        write_crate(VERSION_DIR)
    versioning.update_latest(RESULTS, VERSION.id)
    runlock.release_owner(SNAKEMAKE_DIR)
    state = f"partial ({len(missing)} targets not built)" if missing else "complete"
    print(
        f"bayespipe: version {VERSION.id} {state} ({count} files): {VERSION_DIR}/manifest.json",
        file=sys.stderr,
    )
