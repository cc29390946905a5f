from pathlib import Path

from bayespipe.jobs import job
from bayespipe.provenance import git_state, host_info
from bayespipe.report.html import RunInfo, write_report

with job(snakemake) as record:
    info = RunInfo(**snakemake.params.run, git=git_state(snakemake.params.root), host=host_info())
    version_dir = Path(snakemake.output.html).parents[1]  # results/<version>/report/index.html
    write_report(version_dir, snakemake.output.html, info)
    record["generated"] = info.generated
