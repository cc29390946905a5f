"""bayespipe: the logic behind the reproducible Bayesian modelling workflow.

Snakemake scripts in ``workflow/scripts`` only unpack ``snakemake.*`` and call
functions from this package, so everything here is testable without Snakemake.
"""

__version__ = "0.1.0"
