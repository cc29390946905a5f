"""Every job declares one thread, so `--cores 2` runs two at once (README: Where the time goes).

A Stan fit still samples its configured parallel chains (and asks a cluster for them as
``cpus_per_task``), a network still trains on ``tfp.threads``; the draws do not depend on how many
chains run at once.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from bayespipe.engines.stan.cmdstanpy_engine import CmdStanPyEngine
from conftest import REPO, TEST_CONFIG, require_cmdstan, run_snakemake

FIT_RULES = re.compile(r"tadpoles_fit|zillow_fit_\w+|models_fit|calibration_batch")
TF_RULES = {
    "moons_fit",
    "sinusoid_fit",
    "zillow_network_fit",
    "mnist_train",
    "mnist_ood",
    "tadpoles_compare_tfp_hmc",
}


def planned_jobs(output: str) -> list[dict]:
    """Rule, threads (1 unless a line says otherwise) and resources of every job a dry run lists."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?(?:rule|checkpoint) \w+:\n)", output):
        head = re.match(r"(?:local)?(?:rule|checkpoint) (\w+):\n", block)
        if not head:
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, flags=re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, flags=re.M)
        pairs = resources.group(1).split(", ") if resources else []
        jobs.append(
            {
                "rule": head.group(1),
                "threads": int(threads.group(1)) if threads else 1,
                "resources": dict(pair.split("=", 1) for pair in pairs),
            }
        )
    return jobs


def test_every_job_declares_one_thread_and_asks_a_cluster_for_its_peak(repo_copy):
    config = yaml.safe_load((REPO / TEST_CONFIG).read_text())
    output = run_snakemake(repo_copy, "--configfile", TEST_CONFIG, "--dry-run", cores="2").stdout
    jobs = planned_jobs(output)
    assert len(jobs) > 40, output[-3000:]
    assert {job["rule"]: job["threads"] for job in jobs if job["threads"] != 1} == {}, (
        "a job declaring more than one thread holds both cores of `--cores 2` for all its wall"
    )
    fits = {job["rule"]: job["resources"].get("cpus_per_task") for job in jobs}
    fits = {rule: cpus for rule, cpus in fits.items() if FIT_RULES.fullmatch(rule)}
    assert {"tadpoles_fit", "models_fit", "calibration_batch"} <= set(fits), fits
    assert all(cpus in ("1", "2") for cpus in fits.values()), fits  # parallel_chains: 2
    tadpoles = config["tadpoles"]["sampler"]
    assert fits["tadpoles_fit"] == str(min(tadpoles.get("parallel_chains", 2), tadpoles["chains"]))
    networks = [job for job in jobs if job["rule"] in TF_RULES]
    assert networks and all(job["resources"].get("cpus_per_task") == "2" for job in networks)
    # Everything else asks a cluster for its one thread (the profile's default).
    assert not [
        job
        for job in jobs
        if "cpus_per_task" in job["resources"]
        and not FIT_RULES.fullmatch(job["rule"])
        and job["rule"] not in TF_RULES
    ]


def test_planned_jobs_reads_threads_and_resources():
    output = (
        "rule a:\n    output: x\n    jobid: 1\n    threads: 2\n"
        "    resources: tmpdir=/tmp, cpus_per_task=2, gpu=0\n\n"
        "localrule all:\n    input: x\n    jobid: 0\n"
    )
    assert planned_jobs(output) == [
        {
            "rule": "a",
            "threads": 2,
            "resources": {"tmpdir": "/tmp", "cpus_per_task": "2", "gpu": "0"},
        },
        {"rule": "all", "threads": 1, "resources": {}},
    ]


def test_real_cmdstan_draws_do_not_depend_on_parallel_chains(tmp_path):
    """Each chain's draws follow from the seed and its chain id, whichever chains run at once."""
    require_cmdstan()
    program = Path(REPO / "stan" / "tadpoles.stan")
    data = {"N": 3, "density": [10, 25, 35], "surv": [9, 20, 7]}
    engine = CmdStanPyEngine()
    stamp = tmp_path / "tadpoles.compile.json"
    engine.compile(program, stamp)
    sampler = {"chains": 3, "warmup": 150, "draws": 100, "seed": 11}
    fits = {
        at_once: engine.fit(
            program, data, {**sampler, "parallel_chains": at_once}, stamp_path=stamp
        )
        for at_once in (1, 3)
    }
    for name in ("a_bar", "sigma", "a"):
        np.testing.assert_array_equal(
            fits[1][0].posterior[name].values, fits[3][0].posterior[name].values
        )
    assert fits[3][1]["sampler"]["parallel_chains"] == 3


@pytest.mark.parametrize(
    "script", ["tadpoles_fit", "zillow_fit", "models_fit", "calibration_batch"]
)
def test_fit_scripts_take_parallel_chains_from_the_config_not_the_jobs_threads(script):
    text = (REPO / "workflow" / "scripts" / f"{script}.py").read_text()
    assert "snakemake.threads" not in text
