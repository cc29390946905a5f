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
include: "workflow/rules/tadpoles.smk"
include: "workflow/rules/zillow_common.smk"
include: "workflow/rules/zillow_data.smk"
include: "workflow/rules/zillow_models.smk"
include: "workflow/rules/zillow_network.smk"
include: "workflow/rules/moons.smk"
include: "workflow/rules/sinusoid.smk"
include: "workflow/rules/mnist.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/calibration.smk"
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
