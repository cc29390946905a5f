"""End-to-end tests: Snakemake runs of config/test.yaml in copies of the repository."""
