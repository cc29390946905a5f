# The version's own outputs: code snapshot, HTML report (and, on success, the RO-Crate written by
# write_version_manifest in common.smk). Included last, so every analysis has registered its targets.

from bayespipe.report import snapshot as code_snapshot
from bayespipe.report.html import page_files as report_page_files

ALL_CODE = {f: HashCache(None).sha256(ROOT / f) for f in versioning.code_files(ROOT)}


rule report_code_snapshot:
    output:
        # One folder (Snakemake prints a job's outputs: 250 paths made a 30 KB console line);
        # the version's manifest still lists, and audit checks, each file inside it.
        snapshot=directory(out("report", "code-snapshot")),
    log:
        log_path("report", "report_code_snapshot"),
    benchmark:
        bench_path("report", "report_code_snapshot")
    conda:
        CONDA_ENV
    params:
        root=str(ROOT),
        code_digest=code_snapshot.code_digest(ALL_CODE),
        # One job per new version at least, so every version gets its folder and manifest.
        version=lambda wildcards: VERSION.id,
    script:
        "../scripts/report_code_snapshot.py"


FINAL_TARGETS.setdefault("report", []).extend(rules.report_code_snapshot.output)

if config["report"]:

    rule report_html:
        input:
            # Every enabled analysis's final targets, looked up when the DAG is built (after all includes).
            targets=lambda wildcards: [
                f for name in ENABLED for f in FINAL_TARGETS.get(name, [])
            ],
            snapshot=rules.report_code_snapshot.output.snapshot,
            # Templates, tutorial references and layout of the page (not Python: not in job_code).
            page=[os.path.relpath(f, ROOT) for f in report_page_files()],
        output:
            html=report(
                out("report", "index.html"),
                caption="../report/report_index.rst",
                category="Version report",
            ),
        log:
            log_path("report", "report_html"),
        benchmark:
            bench_path("report", "report_html")
        conda:
            CONDA_ENV
        params:
            root=str(ROOT),
            # The report compares with the newest other complete version in the results folder
            # (results/.work/<label>/report/index.html -> results).
            results=lambda wildcards, output: str(Path(output.html).parents[3]),
            run=lambda wildcards: {
                "version": VERSION.id,
                "config": config,
                "software": SOFTWARE,
                "stan_engine": software.stan_engine_info(STAN_ENGINE),
                "analyses": ENABLED,
                "code": VERSION.code,
                "data": VERSION.data,
            },
        script:
            "../scripts/report_html.py"

    FINAL_TARGETS["report"].append(rules.report_html.output.html)
