# Two commands: `make run` (every analysis, default config) and `make test` (`make lint`, then the
# test suite).
# Both create .venv if missing and install the pinned dependencies and the package first.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
CORES ?= all
STAMP := $(VENV)/.installed
# One attempt per set-up to install CmdStan (see bayespipe.cmdstan_setup); removed with the venv.
CMDSTAN_STAMP := $(VENV)/.cmdstan-attempt
CMDSTAN_TIMEOUT ?= 1800

export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: run test setup cmdstan lint format report clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the pins or the package metadata change.
$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m bayespipe.cmdstan_setup --stamp $(CMDSTAN_STAMP) --timeout $(CMDSTAN_TIMEOUT)
	$(BIN)/snakemake --cores $(CORES)

# Lint first: a lint regression fails `make test` (and so CI, .ci/run) before any test runs.
test: lint
	$(BIN)/python -m pytest

# Snakemake's own HTML report of the latest version.
report: $(STAMP)
	$(BIN)/snakemake --report results/latest/snakemake-report.zip

lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

format: $(STAMP)
	$(BIN)/snakefmt Snakefile workflow/rules

# Optional: CmdStan for the CmdStanPy engine (downloads from GitHub; nothing else needs it).
cmdstan: $(STAMP)
	$(BIN)/python -m cmdstanpy.install_cmdstan --cores 2

clean-venv:
	rm -rf $(VENV)
