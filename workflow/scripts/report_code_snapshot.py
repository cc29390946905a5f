from pathlib import Path

from bayespipe.jobs import job
from bayespipe.report.snapshot import write_snapshot

with job(snakemake) as record:
    folder = Path(snakemake.output.snapshot)  # results/.work/<label>/report/code-snapshot
    files = write_snapshot(snakemake.params.root, folder, snakemake.params.code_digest)
    record["files"] = len(files)
