# bayespipe: reproducible Bayesian modelling workflow.
#
#   snakemake --cores all                              # default run (config/config.yaml)
#   snakemake --cores all --configfile config/test.yaml  # small, fast run
#
# Every output lands in results/<version>/, where <version> is a digest of the config, the code,
# the raw data and the software versions (see workflow/bayespipe/versioning.py).

from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"


# Every analysis's rule files, as its declaration in workflow/bayespipe/analyses/<name>/ names
# them (bayespipe.catalog), in report order; the version's report comes last.
for rule_file in catalog_rule_files():

    include: rule_file


include: "workflow/rules/report.smk"


seal_version()  # every rule is defined: job code keys, then the version id


onstart:
    runlock.record_owner(SNAKEMAKE_DIR)


onsuccess:
    write_version_manifest()


onerror:
    runlock.release_owner(SNAKEMAKE_DIR)


rule all:
    default_target: True
    input:
        final_targets(),
