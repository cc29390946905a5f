"""The CmdStanPy engine: argument mapping against a stand-in CmdStanModel (runs everywhere), and the
real thing plus the engine-equality check wherever CmdStan is installed."""

import os
import types
from pathlib import Path

import numpy as np
import pytest

from bayespipe import software
from bayespipe.engines.stan import engine as stan_engine
from bayespipe.engines.stan.engine import CmdStanPyEngine, PyStanEngine, StaleStampError, StanEngineError

az = pytest.importorskip("arviz")

REPO = Path(__file__).resolve().parents[1]
TADPOLES = REPO / "stan" / "tadpoles.stan"
DATA = {"N": 3, "density": [10, 25, 35], "surv": [9, 20, 7]}
SAMPLER = {"chains": 3, "parallel_chains": 2, "warmup": 120, "draws": 80, "prior_draws": 40, "seed": 5,
           "adapt_delta": 0.9, "max_treedepth": 8}
KWARGS = {"posterior_predictive": "surv_rep", "log_likelihood": "log_lik", "observed_data": ["surv"]}


class FakeFit:
    def __init__(self, method, kwargs):
        self.method, self.kwargs = method, kwargs
        self.metadata = types.SimpleNamespace(stan_vars={"a_bar": None, "surv_rep": None})

    def stan_variable(self, name):
        shape = (self.kwargs.get("draws", 10),) + (() if name == "a_bar" else (3,))
        return np.zeros(shape)


class FakeCmdStanModel:
    """Records what the engine asks of CmdStanPy; 'compiles' by writing a file next to the source."""

    calls: list = []
    fail_with: str | None = None

    def __init__(self, stan_file=None, exe_file=None, cpp_options=None, stanc_options=None, **extra):
        FakeCmdStanModel.calls.append(("init", dict(stan_file=stan_file, exe_file=exe_file, cpp_options=cpp_options,
                                                     stanc_options=stanc_options, **extra)))
        self.exe_file = exe_file or str(Path(stan_file).with_suffix(""))
        if exe_file is None and not Path(self.exe_file).exists():
            Path(self.exe_file).write_bytes(b"binary of " + Path(stan_file).read_bytes())

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
    monkeypatch.setattr(software, "cmdstan_info", lambda: {"path": "/opt/cmdstan", "version": "2.35.0"})
    monkeypatch.setattr(CmdStanPyEngine, "_cmdstanpy", lambda self: types.SimpleNamespace(CmdStanModel=FakeCmdStanModel))
    converted = []

    def from_cmdstanpy(**kwargs):
        fit = kwargs.get("posterior") or kwargs.get("prior")
        # CmdStanPy reads its CSV files lazily: they must still exist while ArviZ converts.
        assert list(Path(fit.kwargs["output_dir"]).glob("*.csv")), "CSV output gone before conversion"
        converted.append(kwargs)
        group = "posterior" if "posterior" in kwargs else "prior"
        return az.from_dict(**{group: {"a_bar": np.zeros((2, 5))}})

    monkeypatch.setattr(az, "from_cmdstanpy", from_cmdstanpy)
    return types.SimpleNamespace(engine=CmdStanPyEngine(exe_cache=tmp_path / "exe-cache"), converted=converted,
                                 stamp=tmp_path / "tadpoles.compile.json")


def calls(kind):
    return [kwargs for name, kwargs in FakeCmdStanModel.calls if name == kind]


def test_compile_builds_in_cache_and_stamps_the_executable(fake_cmdstan):
    stamp = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp, cpp_options={"STAN_THREADS": True},
                                        stanc_options={"O1": True})
    exe = Path(stamp["exe_file"])
    assert exe.is_file() and exe.parent.parent == fake_cmdstan.engine.exe_cache
    assert stamp["exe_sha256"] == stan_engine.sha256_file(exe)
    assert stamp["engine"] == "cmdstanpy" and stamp["versions"]["cmdstan"] == "2.35.0"
    assert stamp["cpp_options"] == {"STAN_THREADS": True} and stamp["stanc_options"] == {"O1": True}
    (init,) = calls("init")
    assert init["cpp_options"] == {"STAN_THREADS": True}
    assert init["stanc_options"]["O1"] is True
    assert str(TADPOLES.parent) in init["stanc_options"]["include-paths"]  # #include still resolves
    assert stan_engine.read_json(fake_cmdstan.stamp)["exe_file"] == str(exe)


def test_compile_reuses_the_build_folder_and_separates_options(fake_cmdstan):
    first = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    copy = Path(first["build_folder"]) / TADPOLES.name
    mtime = copy.stat().st_mtime_ns
    second = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    assert second["exe_file"] == first["exe_file"]
    assert copy.stat().st_mtime_ns == mtime  # an identical source is not rewritten (no rebuild)
    other = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp, cpp_options={"STAN_THREADS": True})
    assert other["build_folder"] != first["build_folder"]


def test_nuts_arguments_and_conversion(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, info = fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp,
                                          idata_kwargs=KWARGS)
    (args,) = calls("sample")
    assert {k: args[k] for k in ("chains", "parallel_chains", "iter_warmup", "iter_sampling", "seed", "adapt_delta",
                                 "max_treedepth", "show_progress")} == {
        "chains": 3, "parallel_chains": 2, "iter_warmup": 120, "iter_sampling": 80, "seed": 5, "adapt_delta": 0.9,
        "max_treedepth": 8, "show_progress": False}
    assert args["data"]["prior_only"] == 0 and args["data"]["surv"] == DATA["surv"]
    assert not Path(args["output_dir"]).exists()  # CSVs lived in a temporary folder only
    exe_init = calls("init")[-1]
    assert exe_init["exe_file"] == stan_engine.read_json(fake_cmdstan.stamp)["exe_file"]
    (converted,) = fake_cmdstan.converted
    assert converted["posterior_predictive"] == "surv_rep" and converted["log_likelihood"] == "log_lik"
    assert converted["observed_data"] == {"surv": DATA["surv"]}
    assert info["engine"] == "cmdstanpy" and info["method"] == "nuts" and "posterior" in idata.groups()


def test_prior_only_run(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp, prior_only=True,
                            idata_kwargs=KWARGS)
    (args,) = calls("sample")
    assert args["iter_sampling"] == 40 and args["data"]["prior_only"] == 1
    (converted,) = fake_cmdstan.converted
    assert "prior" in converted and converted["prior_predictive"] == "surv_rep"
    assert "log_likelihood" not in converted and "posterior" not in converted


def test_pathfinder_and_advi_arguments(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    idata, info = fake_cmdstan.engine.fit(TADPOLES, DATA, {**SAMPLER, "method": "pathfinder"},
                                          stamp_path=fake_cmdstan.stamp, idata_kwargs=KWARGS)
    (args,) = calls("pathfinder")
    assert args["num_paths"] == 3 and args["draws"] == 80 and args["seed"] == 5
    assert idata.posterior["a_bar"].shape == (1, 80)  # one set of approximate draws
    assert idata.posterior_predictive["surv_rep"].shape == (1, 80, 3)
    assert info["method"] == "pathfinder"
    fake_cmdstan.engine.fit(TADPOLES, DATA, {**SAMPLER, "method": "advi"}, stamp_path=fake_cmdstan.stamp)
    (args,) = calls("variational")
    assert args["draws"] == 80 and args["seed"] == 5


def test_changed_executable_is_refused(fake_cmdstan):
    stamp = fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    Path(stamp["exe_file"]).write_bytes(b"something else")
    with pytest.raises(StaleStampError, match="changed since compiling"):
        fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp)


def test_cmdstan_failure_carries_its_message(fake_cmdstan):
    fake_cmdstan.engine.compile(TADPOLES, fake_cmdstan.stamp)
    FakeCmdStanModel.fail_with = "Error during sampling:\nInitialization failed. Rejecting initial value"
    with pytest.raises(StanEngineError, match="(?s)CmdStan failed.*Initialization failed"):
        fake_cmdstan.engine.fit(TADPOLES, DATA, SAMPLER, stamp_path=fake_cmdstan.stamp)


def test_missing_cmdstan_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(software, "cmdstan_info", lambda: None)
    with pytest.raises(StanEngineError, match="CmdStan is not installed.*stan.engine: pystan"):
        CmdStanPyEngine(exe_cache=tmp_path).compile(TADPOLES, tmp_path / "stamp.json")


# --- with a real CmdStan --------------------------------------------------------------------------
def require_cmdstan():
    info = software.cmdstan_info()
    if info is None:
        message = "CmdStan is not installed here (cmdstanpy.cmdstan_path() does not resolve)"
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    return info


def test_real_cmdstan_fit(tmp_path):
    require_cmdstan()
    engine = CmdStanPyEngine(exe_cache=tmp_path / "exe")
    engine.compile(TADPOLES, tmp_path / "stamp.json")
    sampler = {"chains": 2, "warmup": 200, "draws": 100, "prior_draws": 50, "seed": 3}
    idata, info = engine.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "stamp.json", idata_kwargs=KWARGS)
    assert {"posterior", "sample_stats", "observed_data", "posterior_predictive"} <= set(idata.groups())
    assert idata.posterior["a"].shape == (2, 100, 3)
    prior, _ = engine.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "stamp.json", prior_only=True,
                          idata_kwargs=KWARGS)
    assert prior.prior["a_bar"].shape == (2, 50)
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob("bayespipe-cmdstan-*/*.csv"))


def test_engines_give_the_same_draws(tmp_path):
    """Same Stan version and seed: CmdStan and PyStan draw the same numbers (chains in the same order)."""
    info = require_cmdstan()
    stan_version = software.httpstan_stan_version()
    if info.get("version") != stan_version:
        message = f"CmdStan {info.get('version')} and PyStan's Stan {stan_version} differ; draws need one version"
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    sampler = {"chains": 2, "warmup": 200, "draws": 100, "seed": 8}
    cmdstan = CmdStanPyEngine(exe_cache=tmp_path / "exe")
    cmdstan.compile(TADPOLES, tmp_path / "cmdstan.json")
    pystan = PyStanEngine()
    pystan.compile(TADPOLES, tmp_path / "pystan.json")
    a, _ = cmdstan.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "cmdstan.json")
    b, _ = pystan.fit(TADPOLES, DATA, sampler, stamp_path=tmp_path / "pystan.json")
    for name in ("a_bar", "sigma", "z"):
        np.testing.assert_allclose(a.posterior[name].values, b.posterior[name].values, rtol=1e-5, atol=1e-6)
