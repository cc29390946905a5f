from pathlib import Path

from bayespipe.jobs import job
from bayespipe.provenance import git_state, host_info
from bayespipe.report.html import RunInfo, write_report
from bayespipe.versioning import run_files

with job(snakemake) as record:
    info = RunInfo(**snakemake.params.run, git=git_state(snakemake.params.root), host=host_info())
    work = Path(snakemake.output.html).parents[1]  # <work tree>/report/index.html
    # This run's files (not all the tree's): the analyses' and the code snapshot's.
    files = set(run_files(work, [*snakemake.input.targets, snakemake.input.snapshot]))
    written = write_report(
        work, snakemake.output.html, info, files=files, results_dir=snakemake.params.results
    )
    record["generated"] = info.generated
    record["compared_with"] = written.compared_with
    record["headline_verdicts"] = written.verdicts
