"""The Slurm profile (profiles/slurm): its settings, then real runs on a one-node Slurm cluster.

The cluster tests start Slurm with tests/e2e/slurm/start_cluster.sh (root only: it installs
slurm-wlm and munge if missing and starts munged, slurmctld and slurmd) and stop the daemons it
started at the end. They run config/test.yaml through the profile in a copy of the repository,
cancel one job with scancel and rerun, and run the tiny workflow tests/e2e/slurm/Snakefile for
memory retries, cleanup of killed jobs and GPU requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from conftest import BIN, REPO, SNAKEMAKE, TEST_CONFIG, snakemake_env, version_dir_of

PROFILE = REPO / "profiles" / "slurm"
SLURM_TESTS = REPO / "tests" / "e2e" / "slurm"
# The test cluster answers at once; poll it every few seconds instead of the profile's 20 s.
FAST_STATUS = (
    "--slurm-init-seconds-before-status-checks",
    "3",
    "--seconds-between-status-checks",
    "3",
)
# Outputs that are byte for byte the same on every run with the same config, seed and engine.
# Logs, job records, benchmarks and figures carry times or renderer metadata; compile stamps
# (*.compile.json) and posterior draws (*.nc) are compared by content below.
IDENTICAL_SUFFIXES = {".parquet", ".csv"}


def load_profile() -> dict:
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def evaluate(expression, *, attempt: int, threads: int = 1, input_mb: float = 0):
    """A profile resource as Snakemake evaluates it for one attempt of a job."""
    from snakemake.resources import Resources

    resource = Resources.parse([f"x={expression}"], allow_expressions=True)["x"]
    return resource.evaluate(
        wildcards={},
        input=SimpleNamespace(size_mb=input_mb),
        attempt=attempt,
        threads=threads,
        rulename="rule",
        async_run=asyncio.run,
    ).value


def workflow_rules(repo: Path) -> set[str]:
    """Every rule name of the workflow (rules named in loops included), from Snakemake itself."""
    listed = subprocess.run(
        [SNAKEMAKE, "--list-rules", "--configfile", TEST_CONFIG],
        cwd=repo,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return {line.strip() for line in listed.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", line)}


# --- the profile, without Slurm -----------------------------------------------------------------


def test_profile_uses_the_slurm_executor_with_squeue_status():
    profile = load_profile()
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    assert profile["retries"] >= 1 and profile["jobs"] >= 1 and profile["latency-wait"] >= 10
    assert (PROFILE / profile["slurm-partition-config"]).is_file()


def test_default_memory_and_runtime_grow_with_each_attempt():
    defaults = load_profile()["default-resources"]
    memory = [evaluate(defaults["mem_mb"], attempt=a) for a in (1, 2, 3)]
    runtime = [evaluate(defaults["runtime"], attempt=a) for a in (1, 2, 3)]
    assert memory[0] >= 1000 and memory[0] < memory[1] < memory[2], memory
    assert runtime[0] >= 10 and runtime[0] < runtime[1] < runtime[2], runtime
    assert evaluate(defaults["mem_mb"], attempt=1, input_mb=5000) >= 10000, (
        "large inputs get more memory"
    )
    assert evaluate(defaults["cpus_per_task"], attempt=1, threads=3) == 3, (
        "a rule's threads are its CPUs"
    )


def test_per_rule_resources_name_rules_of_the_workflow_and_grow_per_attempt(repo_copy):
    rules = workflow_rules(repo_copy)
    assert {"all", "reedfrogs_prepare"} <= rules, rules
    per_rule = load_profile().get("set-resources", {})
    assert per_rule, "the profile should size the heavier rules"
    assert not set(per_rule) - rules, (
        f"set-resources for rules that do not exist: {set(per_rule) - rules}"
    )
    for rule, resources in per_rule.items():
        if "mem_mb" in resources:
            first, second = (evaluate(resources["mem_mb"], attempt=a) for a in (1, 2))
            assert second > first, f"{rule}: mem_mb does not grow on retry"


def test_network_rules_request_a_gpu_when_the_config_asks_for_one(repo_copy):
    dry_run = subprocess.run(
        [
            SNAKEMAKE,
            "--profile",
            "profiles/slurm",
            "--dry-run",
            "--configfile",
            TEST_CONFIG,
            "--config",
            "analyses=[mnist]",
            "tfp={device: gpu}",
        ],
        cwd=repo_copy,
        env=snakemake_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert dry_run.returncode == 0, dry_run.stderr[-4000:]
    jobs = re.findall(
        r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", dry_run.stdout, flags=re.M
    )
    gpu_rules = {rule for rule, resources in jobs if re.search(r"\bgpu=1\b", resources)}
    assert {"mnist_train", "mnist_ood"} <= gpu_rules, jobs
    assert "mnist_prepare" not in gpu_rules


def test_site_settings_are_marked():
    text = (PROFILE / "config.yaml").read_text() + (PROFILE / "partitions.yaml").read_text()
    site_lines = [line for line in text.splitlines() if "SITE:" in line]
    for setting in ("account", "partition", "gpu"):
        assert any(setting in line.lower() for line in site_lines), f"no 'SITE:' line for {setting}"


def _job(name: str, **resources) -> SimpleNamespace:
    class Resources(dict):
        __getattr__ = dict.get

    return SimpleNamespace(
        name=name, threads=resources.pop("threads", 1), resources=Resources(resources)
    )


def test_partition_config_sends_gpu_jobs_to_the_gpu_partition():
    from snakemake_executor_plugin_slurm.partitions import get_best_partition, read_partition_file

    partitions = read_partition_file(PROFILE / load_profile()["slurm-partition-config"])
    logger = SimpleNamespace(info=lambda *a: None, debug=lambda *a: None, warning=lambda *a: None)
    assert (
        get_best_partition(partitions, _job("fit", mem_mb=4000, runtime=60, threads=2), logger)
        == "cpu"
    )
    assert (
        get_best_partition(partitions, _job("train", mem_mb=4000, runtime=60, gpu=0), logger)
        == "cpu"
    )
    assert (
        get_best_partition(partitions, _job("train", mem_mb=4000, runtime=60, gpu=1), logger)
        == "gpu"
    )


# --- a real one-node cluster ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A running test cluster: its state folder (slurm.conf, daemon logs) and client environment."""
    if os.geteuid() != 0:
        pytest.skip(
            "the Slurm cluster tests need root "
            "(tests/e2e/slurm/start_cluster.sh installs and starts Slurm)"
        )
    state = tmp_path_factory.mktemp("slurm")
    env = dict(os.environ, SLURM_CTLD_PORT=str(_free_port()), SLURMD_PORT=str(_free_port()))
    started = subprocess.run(
        [str(SLURM_TESTS / "start_cluster.sh"), str(state)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    try:
        assert started.returncode == 0, f"start_cluster.sh failed:\n{started.stderr[-4000:]}"
        yield SimpleNamespace(
            state=state, env={**snakemake_env(), "SLURM_CONF": str(state / "slurm.conf")}
        )
    finally:
        stopped = subprocess.run(
            [str(SLURM_TESTS / "stop_cluster.sh"), str(state)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        print(stopped.stderr, end="")


def slurmctld_job_ids(cluster) -> set[str]:
    """Ids of the jobs slurmctld gave nodes to, from its log."""
    log = (cluster.state / "slurmctld.log").read_text()
    return set(re.findall(r"(?:sched: Allocate|_start_job: Started) JobId=(\d+)", log))


def plugin_log_ids(workdir: Path) -> dict[str, set[str]]:
    """Rule -> Slurm job ids of the executor plugin's logs.

    .snakemake/slurm_logs/rule_<rule>/.../<id>.log.
    """
    ids: dict[str, set[str]] = {}
    for log in (workdir / ".snakemake" / "slurm_logs").glob("rule_*/**/*.log"):
        rule = log.relative_to(workdir / ".snakemake" / "slurm_logs").parts[0][len("rule_") :]
        ids.setdefault(rule, set()).add(log.stem)
    return ids


def env_for(cluster, workdir: Path) -> dict:
    """The cluster's client environment, importing bayespipe from ``workdir`` when it has one.

    Every Slurm job parses the workflow again and recomputes the version id, so the main process
    and the jobs must see the same package (and config schema), not a checkout that may change.
    """
    env = dict(cluster.env)
    if (workdir / "workflow" / "bayespipe").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(workdir / "workflow"), env.get("PYTHONPATH")])
        )
    return env


def slurm_snakemake(cluster, workdir: Path, *args: str, popen: bool = False):
    """Snakemake in ``workdir`` with the Slurm profile (the copy's own, or the repository's)."""
    profile = "profiles/slurm" if (workdir / "profiles" / "slurm").is_dir() else str(PROFILE)
    command = [SNAKEMAKE, "--profile", profile, *FAST_STATUS, *args]
    kwargs = dict(
        cwd=workdir,
        env=env_for(cluster, workdir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if popen:
        return subprocess.Popen(command, **kwargs)
    return subprocess.run(command, timeout=900, **kwargs)


def squeue(cluster, *args: str) -> list[list[str]]:
    out = subprocess.run(
        ["squeue", "-h", *args], env=cluster.env, capture_output=True, text=True, check=True
    )
    return [line.split("|") for line in out.stdout.splitlines() if line.strip()]


def _seconds(elapsed: str) -> int:
    """squeue's elapsed time ([days-][hours:]minutes:seconds) in seconds."""
    days, _, clock = elapsed.rpartition("-")
    seconds = 0
    for part in clock.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + int(days or 0) * 86400


def cancel_first_running_job(
    cluster, run: subprocess.Popen, *, after: int = 3, timeout: float = 300
) -> tuple[str, str, str]:
    """scancel the first job that has run for ``after`` seconds.

    Returns its (Slurm job id, rule, wildcards text). Every job starts Snakemake inside it first
    (several seconds), so it is still running then.
    """
    deadline = time.time() + timeout
    while time.time() < deadline:
        assert run.poll() is None, (
            f"the workflow ended before a job was cancelled:\n{run.stdout.read()[-4000:]}"
        )
        running = [
            job
            for job in squeue(cluster, "-t", "RUNNING", "-o", "%i|%k|%M")
            if _seconds(job[2]) >= after
        ]
        if running:
            job_id, comment, _ = running[0]
            subprocess.run(["scancel", job_id], env=cluster.env, check=True)
            rule, _, wildcards = comment.removeprefix("rule_").partition("_wildcards_")
            return job_id, rule, wildcards
        time.sleep(0.5)
    raise AssertionError(f"no job ran for {after} s within {timeout} s")


def copy_of_run(run: Path, destination: Path) -> Path:
    """The code and config of a finished run, without its results: same files, same version id."""

    def top_level_state(folder, names):
        return {"results", ".snakemake", ".git"} & set(names) if Path(folder) == run else set()

    shutil.copytree(run, destination, symlinks=True, ignore=top_level_state)
    shared = run.parent / "shared"
    if shared.exists() and not (destination.parent / "shared").exists():
        (destination.parent / "shared").symlink_to(shared.resolve())
    return destination


def files_under(folder: Path) -> set[str]:
    return (
        {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
        if folder.exists()
        else set()
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_memory_retry_cleanup_and_gpu_requests_on_slurm(slurm_cluster, tmp_path):
    result = slurm_snakemake(
        slurm_cluster, tmp_path, "--snakefile", str(SLURM_TESTS / "Snakefile"), "--keep-going"
    )
    output = result.stdout
    assert result.returncode != 0, (
        "rule doomed exceeds its memory on every attempt, so the run must fail"
    )
    logs = plugin_log_ids(tmp_path)

    # hungry: the first attempt (2 GB) is killed for exceeding its memory, the retry gets 4 GB.
    assert (tmp_path / "hungry.txt").read_text().split()[:2] == ["attempt=2", "mem_mb=4000"]
    hungry_logs = sorted(
        (tmp_path / ".snakemake" / "slurm_logs" / "rule_hungry").glob("*.log"),
        key=lambda p: int(p.stem),
    )
    assert len(hungry_logs) == 2, hungry_logs
    assert "exceeded memory limit" in hungry_logs[0].read_text()
    assert "exceeded memory limit" not in hungry_logs[1].read_text()

    # doomed: killed on both attempts after writing part of its output; nothing of it is left.
    assert not (tmp_path / "doomed.txt").exists(), "a killed job left its partial output"
    assert len(logs["doomed"]) == 2
    for log in (tmp_path / ".snakemake" / "slurm_logs" / "rule_doomed").glob("*.log"):
        assert "exceeded memory limit" in log.read_text()

    # CPU and GPU requests: threads become --cpus-per-task; gpu=1 goes to the gpu partition.
    cpu = dict(item.split("=") for item in (tmp_path / "cpu_probe.txt").read_text().split())
    gpu = dict(item.split("=") for item in (tmp_path / "gpu_probe.txt").read_text().split())
    assert (cpu["partition"], cpu["cpus"], cpu["gpus"]) == ("cpu", "2", "none")
    assert (gpu["partition"], gpu["gpus"]) == ("gpu", "0")  # the job step got GPU index 0

    every_id = set().union(*logs.values())
    assert len(every_id) == 6, logs  # hungry 2, doomed 2, cpu_probe 1, gpu_probe 1
    assert every_id <= slurmctld_job_ids(slurm_cluster)
    assert output.count("Trying to restart job") == 2


def _manifest(version_dir: Path) -> dict:
    return json.loads((version_dir / "manifest.json").read_text())


def outputs_of(version_dir: Path) -> dict[str, str]:
    """Output files of the version (path relative to it -> sha256), from its manifest."""
    return {
        entry["path"]: entry["sha256"]
        for entry in _manifest(version_dir)["files"]
        if entry["kind"] == "output"
    }


def _without_timings(value):
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if not re.search(r"seconds|time|date|_at$", k)
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _csv_without_timings(path: Path):
    """A CSV table without its wall-clock columns (training and evaluation seconds vary)."""
    import pandas as pd

    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if re.search(r"seconds|time|date", c)])


def differing_outputs(ours: Path, theirs: Path, paths: list[str]) -> list[str]:
    """The deterministic outputs among ``paths`` that differ between two version folders."""
    import arviz

    ours_hashes, theirs_hashes = outputs_of(ours), outputs_of(theirs)
    differing = []
    for path in paths:
        if path.endswith(".csv") and ours_hashes[path] != theirs_hashes[path]:
            same = _csv_without_timings(ours / path).equals(_csv_without_timings(theirs / path))
        elif Path(path).suffix in IDENTICAL_SUFFIXES:
            same = ours_hashes[path] == theirs_hashes[path]
        elif path.endswith(".compile.json"):
            same = _without_timings(json.loads((ours / path).read_text())) == _without_timings(
                json.loads((theirs / path).read_text())
            )
        else:  # posterior draws
            same = arviz.from_netcdf(ours / path).posterior.equals(
                arviz.from_netcdf(theirs / path).posterior
            )
        if not same:
            differing.append(path)
    return differing


def deterministic(paths) -> list[str]:
    return sorted(
        p
        for p in paths
        if Path(p).suffix in IDENTICAL_SUFFIXES or p.endswith((".compile.json", ".nc"))
    )


@pytest.mark.e2e
@pytest.mark.slow
def test_test_config_runs_through_slurm_and_survives_scancel(slurm_cluster, tmp_path, test_run):
    started = time.time()
    # The local run's own files: the repository may have changed since it was copied.
    workdir = copy_of_run(test_run, tmp_path / "repo")

    # First run: one job is cancelled while it runs; no retries, so the run fails.
    first = slurm_snakemake(
        slurm_cluster, workdir, "--configfile", TEST_CONFIG, "--retries", "0", popen=True
    )
    try:
        cancelled_id, cancelled_rule, cancelled_wildcards = cancel_first_running_job(
            slurm_cluster, first
        )
        first_output, _ = first.communicate(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode != 0, (
        f"the run went on after scancel of job {cancelled_id}:\n{first_output[-4000:]}"
    )
    assert f"SLURM-job '{cancelled_id}' failed" in first_output, first_output[-4000:]
    left_after_cancel = files_under(workdir / "results")

    # Rerun with the profile as it is: it completes.
    second = slurm_snakemake(slurm_cluster, workdir, "--configfile", TEST_CONFIG)
    assert second.returncode == 0, second.stdout[-6000:]
    version = version_dir_of(workdir)
    manifest = _manifest(version)
    assert manifest["executor"] == "slurm"

    # Every job ran as a Slurm job: its id is in its job record, the plugin's logs and slurmctld's
    # log.
    jobs = manifest["jobs"]
    ids = [job["slurm_job_id"] for job in jobs]
    assert jobs and all(ids), [(job["rule"], job["slurm_job_id"]) for job in jobs]
    assert len(set(ids)) == len(ids)
    logged = plugin_log_ids(workdir)
    for job in jobs:
        assert job["slurm_job_id"] in logged.get(job["rule"], set()), (
            job["rule"],
            job["slurm_job_id"],
            logged,
        )
    allocated = slurmctld_job_ids(slurm_cluster)
    assert set(ids) <= allocated
    assert cancelled_id in allocated and cancelled_id not in ids

    # The cancelled job left no outputs; it ran again in the rerun. (A rule with wildcards has
    # other jobs that may have finished before the cancel: match the cancelled one's wildcards.)
    rerun = [
        job
        for job in jobs
        if job["rule"] == cancelled_rule
        and all(str(v) in cancelled_wildcards for v in job["wildcards"].values())
    ]
    assert rerun, f"{cancelled_rule} has no job in the manifest"
    for job in rerun:
        for path in job["outputs"]:
            assert f"{version.name}/{path}" not in left_after_cancel, f"{path} survived scancel"

    audit = subprocess.run(
        [str(BIN / "bayespipe"), "audit", str(version)],
        env=env_for(slurm_cluster, workdir),
        capture_output=True,
        text=True,
    )
    assert audit.returncode == 0 and audit.stdout.strip() == "OK", audit.stdout + audit.stderr

    # Same results as the local run of the same config.
    local = version_dir_of(test_run)
    assert version.name == local.name
    assert set(outputs_of(version)) == set(outputs_of(local))
    compared = deterministic(outputs_of(version))
    assert compared, "no deterministic outputs to compare"
    assert differing_outputs(version, local, compared) == []

    slurm_jobs = len(set(ids) | {cancelled_id})
    print(
        f"\nslurm: {slurm_jobs} jobs ran through Slurm ({len(jobs)} in the manifest, "
        f"1 cancelled: {cancelled_rule}); {len(compared)} deterministic outputs equal the local "
        f"run's; {time.time() - started:.0f} s"
    )
