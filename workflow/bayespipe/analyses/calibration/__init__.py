"""The calibration analysis: simulation-based calibration (SBC) of every Stan program.

Rules in workflow/rules/calibration.smk, results in results/<version>/calibration/. For each
program: a design from the prepared data (``design``), parameters drawn from the prior and data
simulated from the program's own data block (``simulate``), fits in batches with the configured
engine and the rank of each true value among thinned posterior draws (``batch``, ``ranks``), then
uniformity of the ranks judged with ArviZ's simultaneous ECDF bands (``verdict``).
"""
