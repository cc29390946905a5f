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

from bayespipe import software
from bayespipe import versioning
from bayespipe.catalog import ANALYSES, REPORT_DIR
from bayespipe.config import validate_config
from bayespipe.provenance import write_manifest

validate_config(config)

ROOT = Path(workflow.basedir)
RESULTS = config["results_dir"]
STAN_ENGINE = software.resolve_stan_engine(config["stan"]["engine"])
SOFTWARE = software.software_versions()
VERSION = versioning.compute_version(
    ROOT,
    config,
    SOFTWARE,
    engines={"stan": software.stan_engine_info(STAN_ENGINE)},
    hash_cache=ROOT / ".snakemake" / "bayespipe-hashes.json",
)
VERSION_DIR = f"{RESULTS}/{VERSION.id}"
ENABLED = [name for name in config["analyses"] if name in ANALYSES]
STARTED = datetime.datetime.now(datetime.timezone.utc).isoformat()
REUSED = {}

if workflow.is_main_process and not workflow.dryrun:
    REUSED = versioning.reuse_analyses(RESULTS, VERSION, ENABLED)
    for name, source in REUSED.items():
        print(
            f"bayespipe: reusing {name} from version {source} (same inputs)",
            file=sys.stderr,
        )
if workflow.is_main_process:
    print(f"bayespipe: version {VERSION.id} -> {VERSION_DIR}", file=sys.stderr)


def out(analysis, path):
    """A result file of an analysis in this version's folder."""
    return f"{VERSION_DIR}/{analysis}/{path}"


def log_path(analysis, job):
    return f"{VERSION_DIR}/{analysis}/logs/{job}.log"


def bench_path(analysis, job):
    return f"{VERSION_DIR}/{analysis}/benchmarks/{job}.tsv"


FINAL_TARGETS = {}  # analysis -> list of files; each rule file registers its own


def final_targets():
    return [
        f for name in ENABLED for f in FINAL_TARGETS.get(name, [])
    ] + FINAL_TARGETS.get(REPORT_DIR, [])


def rule_scripts():
    """Rule name -> script path relative to the workflow root (for the manifest)."""
    scripts = {}
    for each in workflow.rules:
        script = getattr(each, "script", None)
        if script:
            path = Path(str(each.basedir)) / str(script)
            scripts[each.name] = os.path.relpath(path, ROOT)
    return scripts


CONDA_ENV = "../envs/bayespipe.yaml"  # the pinned environment, for --software-deployment-method conda


def run_info():
    """What the manifest records about this run besides its files."""
    return {
        "version": VERSION.id,
        "digest": VERSION.digest,
        "analysis_digests": VERSION.analysis_digests,
        "analyses": ENABLED,
        "reused": REUSED,
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
    }


def write_version_manifest():
    """Called on success: the manifest of the version folder, then results/latest."""
    # One line: a keyword argument named like a Snakemake directive must not start a line.
    write_manifest(
        VERSION_DIR, workdir=ROOT, rule_scripts=rule_scripts(), run_info=run_info()
    )
    if config[
        "report"
    ]:  # the RO-Crate describes the whole run, so it follows the manifest
        from bayespipe.audit.rocrate import write_crate

        write_crate(VERSION_DIR)
    versioning.update_latest(RESULTS, VERSION.id)
    print(
        f"bayespipe: version {VERSION.id} complete: {VERSION_DIR}/manifest.json",
        file=sys.stderr,
    )
