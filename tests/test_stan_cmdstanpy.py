"""The CmdStanPy engine, against a stand-in CmdStanModel and a real CmdStan.

The CmdStanPy engine: argument mapping against a stand-in CmdStanModel (runs everywhere), and the
real thing plus the engine-equality check wherever CmdStan is installed.
"""

import types
from pathlib import Path

import numpy as np
import pytest

from bayespipe import software
from bayespipe.engines.stan.base import StaleStampError, StanEngineError
from bayespipe.engines.stan.cmdstanpy_engine import DEFAULT_EXE_CACHE, CmdStanPyEngine
from bayespipe.engines.stan.pystan_engine import PyStanEngine
from bayespipe.engines.stan.summary import summary
from bayespipe.io import read_json, sha256_file
from conftest import require_cmdstan

az = pytest.importorskip("arviz")

REPO = Path(__file__).resolve().parents[1]
TADPOLES = REPO / "stan" / "tadpoles.stan"
DATA = {"N": 3, "density": [10, 25, 35], "surv": [9, 20, 7]}
SAMPLER = {
    "chains": 3,
    "parallel_chains": 2,
    "warmup": 120,
    "draws": 80,
    "prior_draws": 40,
    "seed": 5,
    "adapt_delta": 0.9,
    "max_treedepth": 8,
}
KWARGS = {
    "posterior_predictive": "surv_rep",
    "log_likelihood": "log_lik",
    "observed_data": ["surv"],
}


ELBO_CONSOLE = """Begin stochastic gradient ascent.
  iter             ELBO   delta_ELBO_mean   delta_ELBO_med   notes
   100          -16.152             1.000            1.000
   200          -15.022             0.538            1.000
   300          -14.998             0.010            0.005   MEDIAN ELBO CONVERGED
"""


class FakeFit:
    """What the engine reads of a CmdStanMCMC / CmdStanPathfinder / CmdStanVB.

    Pathfinder's pooled draws: the first half has log weight 0 and a_bar = 1, the second half weight
    e^-50 and a_bar = -1.
    """

    def __init__(self, method, kwargs):
        self.method, self.kwargs = method, kwargs
        names = {"a_bar": None, "surv_rep": None, "log_lik": None}
        self.metadata = types.SimpleNamespace(stan_vars=names)
        self.n = (
            kwargs.get("num_paths", 1) * kwargs["num_single_draws"]
            if method == "pathfinder"
            else kwargs.get("draws", 10)
        )
        half = self.n // 2
        self.a_bar = np.r_[np.ones(half), -np.ones(self.n - half)]
        self.column_names = ("lp__", "log_p__", "log_g__", "a_bar")
        zeros = np.zeros(self.n)
        self.variational_sample = np.c_[zeros, -np.arange(self.n) / self.n, zeros, self.a_bar]
        if method == "variational":
            console = Path(kwargs["output_dir"], "vb-stdout.txt")
            console.write_text(ELBO_CONSOLE)
            self.runset = types.SimpleNamespace(stdout_files=[str(console)])

    def stan_variable(self, name):
        return self.stan_variables()[name]

    def stan_variables(self, mean=None):
        if self.method == "variational" and mean is not False:
            return {"a_bar": 0.0, "surv_rep": np.zeros(3), "log_lik": np.zeros(3)}  # the means
        rows = np.zeros((self.n, 3))
        return {"a_bar": self.a_bar, "surv_rep": rows, "log_lik": rows}

    def method_variables(self):
        weights = np.where(self.a_bar > 0, 0.0, -50.0)
        return {"lp__": weights - 5.0, "lp_approx__": np.full(self.n, -5.0)}


class FakeCmdStanModel:
    """Records what the engine asks of CmdStanPy; 'compiles' by writing a file by the source."""

    calls: list = []
    fail_with: str | None = None

    def __init__(
        self, stan_file=None, exe_file=None, cpp_options=None, stanc_options=None, **extra
    ):
        FakeCmdStanModel.calls.append(
            (
                "init",
                dict(
                    stan_file=stan_file,
                    exe_file=exe_file,
                    cpp_options=cpp_options,
                    stanc_options=stanc_options,
                    **extra,
                ),
            )
        )
        self.exe_file = exe_file or str(Path(stan_file).with_suffix(""))
        if exe_file is None and not Path(self.exe_file).exists():
            threads = (cpp_options or {}).get("STAN_THREADS", False)
            program = Path(stan_file).read_bytes()
            Path(self.exe_file).write_bytes(f"threads={threads}\n".encode() + program)

    def exe_info(self):
        threads = Path(self.exe_file).read_bytes().startswith(b"threads=True")
        return {"STAN_THREADS": "true" if threads else "false"}

    def _run(self, method, kwargs):
        FakeCmdStanModel.calls.append((method, kwargs))
        if FakeCmdStanModel.fail_with:
            raise RuntimeError(FakeCmdStanModel.fail_with)
        Path(kwargs["output_dir"], "chain-1.csv").write_text("lp__\n0\n")  # CmdStan's CSV output
        return FakeFit(method, kwargs)

    def sample(self, **kwargs):
        return self._run("sample", kwargs)

    def pathfinder(self, **kwargs):
        return self._run("pathfinder", kwargs)

    def variational(self, **kwargs):
        return self._run("variational", kwargs)


@pytest.fixture
def fake_cmdstan(monkeypatch, tmp_path):
    FakeCmdStanModel.calls = []
    FakeCmdStanModel.fail_with = None
    monkeypatch.setattr(
        software, "cmdstan_info", lambda: {"path": "/opt/cmdstan", "version": "2.35.0"}
    )
    monkeypatch.setattr(
        CmdStanPyEngine,
        "_cmdstanpy",
        lambda self: types.SimpleNamespace(CmdStanModel=FakeCmdStanModel),
    )
    converted = []

    def from_cmdstanpy(**kwargs):
        fit = kwargs.get("posterior") or kwargs.get("prior")
        # CmdStanPy reads its CSV files lazily: they must still exist while ArviZ converts.
        assert list(Path(fit.kwargs["output_dir"]).glob("*.csv")), (
            "CSV output gone before conversion"
        )
        converted.append(kwargs)
        group = "posterior" if "posterior" in kwargs else "prior"
        return az.from_dict(**{group: {"a_bar": np.zeros((2, 5))}})

    monkeypatch.setattr(az, "from_cmdstanpy", from_cmdstanpy)
    return types.SimpleNamespace(
        engine=CmdStanPyEngine(exe_cache=tmp_path / "exe-cache"),
        converted=converted,
        stamp=tmp_path / "tadpoles.compile.json",
    )


def calls(kind):
    return [kwargs for name, kwargs in FakeCmdStanModel.calls if name == kind]


def test_compile_builds_in_cache_and_stamps_the_executable(fake_cmdstan):
    stamp = fake_cmdstan.engine.compile(
        TADPOLES, fake_cmdstan.stamp, cpp_options={"STAN_THREADS": True}, stanc_options={"O1": True}
    )
    exe = Path(stamp["exe_file"])
    assert exe.is_file() and exe.parent.parent == fake_cmdstan.engine.exe_cache
    assert stamp["exe_sha256"] == sha256_file(exe)
    assert stamp["engine"] == "cmdstanpy" and stamp["versions"]["cmdstan"] == "2.35.0"
    assert stamp["cpp_options"] == {"STAN_THREADS": True} and stamp["stanc_options"] == {"O1": True}
    (init,) = calls("init")
    assert init["cpp_options"] == {"STAN_THREADS": True}
    assert init["stanc_options"]["O1"] is True
    assert str(TADPOLES.parent) in init["stanc_options"]["include-paths"]  # #include still resolves
    assert read_json(fake_cmdstan.stamp)["exe_file"] == str(exe)


def test_compile_reuses_the_build_folder_and_separates_options(fake_cmdstan):
    first = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    copy = Path(first["build_folder"]) / TADPOLES.name
    mtime = copy.stat().st_mtime_ns
    second = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    assert second["exe_file"] == first["exe_file"]
    assert copy.stat().st_mtime_ns == mtime  # an identical source is not rewritten (no rebuild)
    other = fake_cmdstan.engine.compile(
        TADPOLES, fake_cmdstan.stamp, cpp_options={"STAN_THREADS": True}
    )
    assert other["build_folder"] != first["build_folder"]


def test_nuts_arguments_and_conversion(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, info = fake_cmdstan.engine.fit(
        TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp, idata_kwargs=KWARGS
    )
    (args,) = calls("sample")
    assert {
        k: args[k]
        for k in (
            "chains",
            "parallel_chains",
            "iter_warmup",
            "iter_sampling",
            "seed",
            "adapt_delta",
            "max_treedepth",
            "show_progress",
        )
    } == {
        "chains": 3,
        "parallel_chains": 2,
        "iter_warmup": 120,
        "iter_sampling": 80,
        "seed": 5,
        "adapt_delta": 0.9,
        "max_treedepth": 8,
        "show_progress": False,
    }
    assert args["data"]["prior_only"] == 0 and args["data"]["surv"] == DATA["surv"]
    assert not Path(args["output_dir"]).exists()  # CSVs lived in a temporary folder only
    exe_init = calls("init")[-1]
    assert exe_init["exe_file"] == read_json(fake_cmdstan.stamp)["exe_file"]
    (converted,) = fake_cmdstan.converted
    assert (
        converted["posterior_predictive"] == "surv_rep" and converted["log_likelihood"] == "log_lik"
    )
    assert converted["observed_data"] == {"surv": DATA["surv"]}
    assert (
        info["engine"] == "cmdstanpy" and info["method"] == "nuts" and "posterior" in idata.groups()
    )


def test_prior_only_run(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    fake_cmdstan.engine.fit(
        TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp, prior_only=True, idata_kwargs=KWARGS
    )
    (args,) = calls("sample")
    assert args["iter_sampling"] == 40 and args["data"]["prior_only"] == 1
    (converted,) = fake_cmdstan.converted
    assert "prior" in converted and converted["prior_predictive"] == "surv_rep"
    assert "log_likelihood" not in converted and "posterior" not in converted


def test_pathfinder_arguments_and_importance_resampling(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, info = fake_cmdstan.engine.fit(
        TADPOLES,
        DATA,
        {**SAMPLER, "method": "pathfinder"},
        stamp_path=fake_cmdstan.stamp,
        idata_kwargs=KWARGS,
    )
    (args,) = calls("pathfinder")
    assert args["num_paths"] == 3 and args["num_single_draws"] == 80 and args["seed"] == 5
    assert args["psis_resample"] is False and args["calculate_lp"] is True  # the engine resamples
    assert "num_threads" not in args  # the executable was built without STAN_THREADS
    assert idata.posterior["a_bar"].shape == (1, 80)  # one set of approximate draws
    assert idata.posterior_predictive["surv_rep"].shape == (1, 80, 3)
    assert idata.log_likelihood["log_lik"].shape == (1, 80, 3)
    assert "surv_rep" not in idata.posterior and "log_lik" not in idata.posterior
    # importance resampling keeps the draws whose weight is not e^-50
    assert (idata.posterior["a_bar"].values == 1).all()
    approximation = info["approximation"]
    assert info["method"] == "pathfinder" and approximation["pooled_draws"] == 240
    assert approximation["threads"] is False and isinstance(approximation["pareto_k"], float)


@pytest.mark.parametrize("method", ["nuts", "pathfinder"])
def test_cmdstanpy_fits_name_elements_as_stan_does(fake_cmdstan, monkeypatch, method):
    """Unnamed dimensions count from 1 after either converter (a real CmdStan: test_real_...)."""

    def from_cmdstanpy(posterior=None, observed_data=None, **kwargs):
        return az.from_dict(
            posterior={"a": np.zeros((2, 5, 3))},
            posterior_predictive={"surv_rep": np.zeros((2, 5, 3))},
            observed_data=observed_data,
        )

    monkeypatch.setattr(az, "from_cmdstanpy", from_cmdstanpy)
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, _ = fake_cmdstan.engine.fit(
        TADPOLES,
        DATA,
        {**SAMPLER, "method": method},
        stamp_path=fake_cmdstan.stamp,
        idata_kwargs=KWARGS,
    )
    assert idata.posterior_predictive["surv_rep_dim_0"].values.tolist() == [1, 2, 3]
    assert idata.observed_data["surv_dim_0"].values.tolist() == [1, 2, 3]
    if method == "nuts":
        assert idata.posterior["a_dim_0"].values.tolist() == [1, 2, 3]
    else:
        assert idata.log_likelihood["log_lik_dim_0"].values.tolist() == [1, 2, 3]


def test_pathfinder_runs_paths_in_parallel_only_with_stan_threads(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp, cpp_options={"STAN_THREADS": True})
    _, info = fake_cmdstan.engine.fit(
        TADPOLES, DATA, {**SAMPLER, "method": "pathfinder"}, stamp_path=fake_cmdstan.stamp
    )
    (args,) = calls("pathfinder")
    assert args["num_threads"] == 2 and info["approximation"]["threads"] is True


def test_advi_keeps_its_draws_not_its_mean(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, info = fake_cmdstan.engine.fit(
        TADPOLES,
        DATA,
        {**SAMPLER, "method": "advi"},
        stamp_path=fake_cmdstan.stamp,
        idata_kwargs=KWARGS,
    )
    (args,) = calls("variational")
    assert args["draws"] == 80 and args["seed"] == 5 and args["require_converged"] is False
    draws = idata.posterior["a_bar"].values
    assert draws.shape == (1, 80) and set(np.unique(draws)) == {-1.0, 1.0}
    assert set(idata.sample_stats.data_vars) == {"log_p", "log_g"}
    approximation = info["approximation"]
    assert approximation["elbo"]["converged"] is True and approximation["elbo"]["iterations"] == 300
    assert np.isfinite(approximation["pareto_k"])


def test_changed_executable_is_refused(fake_cmdstan):
    stamp = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    Path(stamp["exe_file"]).write_bytes(b"something else")
    with pytest.raises(StaleStampError, match="changed since compiling"):
        fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp)


def test_cmdstan_failure_carries_its_message(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    FakeCmdStanModel.fail_with = (
        "Error during sampling:\nInitialization failed. Rejecting initial value"
    )
    with pytest.raises(StanEngineError, match="(?s)CmdStan failed.*Initialization failed"):
        fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp)


def test_missing_cmdstan_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(software, "cmdstan_info", lambda: None)
    with pytest.raises(StanEngineError, match="CmdStan is not installed.*stan.engine: pystan"):
        CmdStanPyEngine(exe_cache=tmp_path).compile(TADPOLES, tmp_path / "stamp.json")


# --- with a real CmdStan --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_engine():
    require_cmdstan()
    return CmdStanPyEngine()  # the per-machine executable cache: compiled once per machine


@pytest.fixture(scope="module")
def real_stamp(real_engine, tmp_path_factory):
    path = tmp_path_factory.mktemp("cmdstan") / "tadpoles.compile.json"
    real_engine.compile(TADPOLES, path)
    return path


def test_console_filter_drops_only_empty_chain_lines():
    import io

    from bayespipe.engines.stan.cmdstanpy_engine import _ConsoleFilter

    target = io.StringIO()
    console = _ConsoleFilter(target)
    for text in ("Chain [1] Iteration: 1 / 400", "\n", "Chain [1] \n" * 1000, "Chain [2] "):
        console.write(text)
    console.write("Chain [1] \nChain [1] Elapsed Time: 0.02 seconds\nChain [1] Chain [2] \n\n")
    console.write("Chain [2] done")
    console.flush()
    assert target.getvalue() == (
        "Chain [1] Iteration: 1 / 400\nChain [1] Elapsed Time: 0.02 seconds\nChain [2] done"
    )


def test_real_cmdstan_fit(real_engine, real_stamp, tmp_path, monkeypatch, capsys):
    import re
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # this test's own temporary folder
    sampler = {"chains": 2, "warmup": 200, "draws": 100, "prior_draws": 50, "seed": 3}
    idata, info = real_engine.fit(
        TADPOLES, DATA, sampler, stamp_path=real_stamp, idata_kwargs=KWARGS
    )
    console = capsys.readouterr().out.splitlines()  # Stan's messages, as the rule log gets them
    assert any("Iteration:" in line for line in console)
    assert not [line for line in console if re.fullmatch(r"(Chain \[\d+\]\s*)*", line)]
    assert {"posterior", "sample_stats", "observed_data", "posterior_predictive"} <= set(
        idata.groups()
    )
    assert idata.posterior["a"].shape == (2, 100, 3)
    # Stan's names: the first element is a[1], in every group
    assert summary(idata.posterior, ["a"]).index.tolist() == ["a[1]", "a[2]", "a[3]"]
    assert idata.posterior_predictive["surv_rep_dim_0"].values.tolist() == [1, 2, 3]
    assert idata.log_likelihood["log_lik_dim_0"].values.tolist() == [1, 2, 3]
    assert idata.observed_data["surv_dim_0"].values.tolist() == [1, 2, 3]
    prior, _ = real_engine.fit(
        TADPOLES, DATA, sampler, stamp_path=real_stamp, prior_only=True, idata_kwargs=KWARGS
    )
    assert prior.prior["a_bar"].shape == (2, 50)
    assert prior.prior["z_dim_0"].values.tolist() == [1, 2, 3]
    assert not list(tmp_path.glob("bayespipe-cmdstan-*"))  # CmdStan's CSV files are gone


def test_real_compile_happens_once_per_machine(real_engine, real_stamp, tmp_path):
    """A second compile (a rerun, another checkout, another test run) reuses the executable."""
    first = read_json(real_stamp)
    exe = Path(first["exe_file"])
    assert exe.parent.parent == DEFAULT_EXE_CACHE
    before = exe.stat().st_mtime_ns
    again = CmdStanPyEngine().compile(TADPOLES, tmp_path / "again.json")
    assert again["exe_file"] == str(exe) and again["exe_sha256"] == first["exe_sha256"]
    assert exe.stat().st_mtime_ns == before  # make did not run: the executable was not rewritten
    assert real_engine.build_folder(TADPOLES, {"STAN_THREADS": True}, {}) != exe.parent


@pytest.mark.parametrize("method", ["pathfinder", "advi"])
def test_real_approximate_methods_give_draws_and_their_diagnostics(real_engine, real_stamp, method):
    from bayespipe.engines.stan.diagnostics import compute_diagnostics

    sampler = {"method": method, "chains": 4, "draws": 300, "seed": 3}
    idata, info = real_engine.fit(
        TADPOLES, DATA, sampler, stamp_path=real_stamp, idata_kwargs=KWARGS
    )
    a_bar = idata.posterior["a_bar"].values
    assert a_bar.shape == (1, 300) and a_bar.std() > 0.05  # draws, not the approximation's mean
    assert 0.0 < a_bar.mean() < 3.0  # the data's survival (36/70) has log-odds near 0.1-1
    assert idata.log_likelihood["log_lik"].shape == (1, 300, 3)
    result = compute_diagnostics(idata, method=method, approximation=info["approximation"])
    assert result["approximate"] is True and result["method"] == method
    assert 0.0 < result["pareto_k"] < 2.0 and "max_rhat" not in result
    if method == "advi":
        assert result["elbo"]["iterations"] > 0 and "elbo_converged" in result["checks"]
    else:
        assert result["pathfinder"]["pooled_draws"] == 4 * 300
        assert result["pathfinder"]["threads"] is False


def test_engines_give_the_same_draws(tmp_path):
    """Same Stan version and seed: CmdStan and PyStan draw the same numbers (chains in order)."""
    from packaging.version import Version

    info = require_cmdstan()
    stan_version = software.httpstan_stan_version()
    # CmdStanPy reports "2.35", httpstan's headers "2.35.0": the same version once parsed.
    if Version(info.get("version") or "0") != Version(stan_version or "0"):
        message = (
            f"CmdStan {info.get('version')} and PyStan's Stan {stan_version} differ; "
            "draws need one version"
        )
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    sampler = {"chains": 2, "warmup": 200, "draws": 100, "seed": 8}
    cmdstan = CmdStanPyEngine()
    cmdstan.compile(TADPOLES, tmp_path / "cmdstan.json")
    pystan = PyStanEngine()
    pystan.compile(TADPOLES, tmp_path / "pystan.json")
    a, _ = cmdstan.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "cmdstan.json")
    b, _ = pystan.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "pystan.json")
    for name in ("a_bar", "sigma", "z"):
        np.testing.assert_allclose(
            a.posterior[name].values, b.posterior[name].values, rtol=1e-5, atol=1e-6
        )
