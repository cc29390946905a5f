"""A models: block whose data is a CmdStan JSON file: the same checks as a table, before any fit.

Each test writes its own small program and data file; the posteriordb tests read real data sets
from ../shared/data/posteriordb/ and skip, saying why, where that folder is absent.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayespipe.analyses.models.fit import fit
from bayespipe.analyses.models.prepare import check_block, load_stan_data, prepare
from bayespipe.catalog import ANALYSES
from bayespipe.config import config_errors
from bayespipe.errors import InputError
from bayespipe.io import HashCache
from bayespipe.versioning import data_fingerprints

REPO = Path(__file__).resolve().parents[1]
POSTERIORDB = REPO.parent / "shared" / "data" / "posteriordb"

KIDIQ = """
data {
  int<lower=0> N;
  vector<lower=0, upper=200>[N] kid_score;
  vector<lower=0, upper=1>[N] mom_hs;
}
parameters { vector[2] beta; real<lower=0> sigma; }
model { kid_score ~ normal(beta[1] + beta[2] * mom_hs, sigma); }
"""

SHAPES = """
data {
  int<lower=1> N;
  int<lower=1> K;
  array[N] vector[K] a;
  matrix[N, K] m;
  array[N, 2] int<lower=0, upper=K> c;
  array[N] real<lower=-1> w;
  real<lower=0> s;
  int<lower=0, upper=1> prior_only;
}
parameters { real mu; }
model { mu ~ normal(0, 1); }
"""


def shapes_data() -> dict:
    return {
        "N": 2,
        "K": 3,
        "a": [[1, 2, 3], [4.5, 5, 6]],
        "m": [[1, 2, 3], [4, 5, 6]],
        "c": [[0, 3], [1, 2]],
        "w": [0.5, "inf"],
        "s": 1.5,
    }


def kidiq_data(n: int = 20) -> dict:
    rng = np.random.default_rng(1)
    return {
        "N": n,
        "kid_score": rng.integers(20, 140, size=n).tolist(),
        "mom_hs": rng.integers(0, 2, size=n).tolist(),
        "mom_iq": rng.normal(100, 15, size=n).round(2).tolist(),  # another program's variable
        "mom_hs_new": 1,
    }


def files(tmp_path: Path, program: str, data) -> tuple[Path, Path]:
    stan, data_file = tmp_path / "program.stan", tmp_path / "data.json"
    stan.write_text(program)
    data_file.write_text(data if isinstance(data, str) else json.dumps(data))
    return stan, data_file


def run(tmp_path: Path, program: str | Path, data, **block) -> tuple[dict, dict]:
    """prepare() on a block named m: (data card, the written Stan data).

    ``program``: its text, or the path of a program written already (read once by stanc).
    """
    if isinstance(program, Path):
        stan, data_file = program, tmp_path / "data.json"
        data_file.write_text(json.dumps(data))
    else:
        stan, data_file = files(tmp_path, program, data)
    entry = {"program": str(stan), "data": str(data_file), **block}
    card = prepare("m", entry, data_file, stan, tmp_path / "d.json", tmp_path / "c.json")
    return card, load_stan_data(tmp_path / "d.json")


def error_of(tmp_path: Path, program: str, data, **block) -> str:
    """The error of prepare(), which writes neither file."""
    for written in ("d.json", "c.json"):
        (tmp_path / written).unlink(missing_ok=True)
    with pytest.raises(InputError) as error:
        run(tmp_path, program, data, **block)
    assert not (tmp_path / "d.json").exists() and not (tmp_path / "c.json").exists()
    return str(error.value)


def test_a_file_with_extra_variables_builds_and_lists_them(tmp_path):
    card, data = run(tmp_path, KIDIQ, kidiq_data())
    assert card["ignored_variables"] == ["mom_iq", "mom_hs_new"]
    assert card["from_file"] == ["N", "kid_score", "mom_hs"]
    assert set(data) == {"N", "kid_score", "mom_hs"}  # nothing ignored reaches Stan
    assert data["N"] == 20 and data["kid_score"].dtype == float and data["kid_score"].shape == (20,)
    document = json.loads((tmp_path / "d.json").read_text())
    assert document["format"] == "bayespipe-model-data/1" and document["heldout"] is None
    assert document["rows"] == {"fit": [], "heldout": []}
    assert document["types"] == {"N": "int", "kid_score": "real", "mom_hs": "real"}


def test_array_of_vectors_matrix_and_2d_int_array_shapes_are_accepted(tmp_path):
    card, data = run(tmp_path, SHAPES, shapes_data(), stan_data={"prior_only": 0})
    assert data["a"].shape == (2, 3) and data["m"].shape == (2, 3)
    assert data["c"].dtype == np.int64 and data["c"].tolist() == [[0, 3], [1, 2]]
    assert data["w"][1] == np.inf and data["prior_only"] == 0
    assert card["from_stan_data"] == ["prior_only"] and card["stan_data"]["a"] == "2x3"


def test_special_values_and_empty_arrays_are_read_as_cmdstan_reads_them(tmp_path):
    program = "data { int N; vector[N] y; array[N] vector[2] z; real x; }\n"
    _, data = run(
        tmp_path, program, '{"N": 2, "y": ["NaN", -Infinity], "z": [[1, 2], [3, 4]], "x": NaN}'
    )
    assert np.isnan(data["y"][0]) and data["y"][1] == -np.inf and np.isnan(data["x"])
    _, data = run(tmp_path, program, {"N": 0, "y": [], "z": [], "x": 1})
    assert data["y"].shape == (0,) and data["N"] == 0


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"N": 2.5}, ["N = 2.5 is not an integer", "declared `int<lower=1> N`"]),
        ({"c": [[0, 3], [1, 1.5]]}, ["c[2, 2] = 1.5 is not an integer"]),
        ({"c": [[0, 3], [1, "inf"]]}, ["c[2, 2] = inf is not an integer"]),
        ({"s": [1.5]}, ["Stan variable 's'", "takes a number", "gives a list of 1 numbers"]),
        ({"a": [1, 2]}, ["Stan variable 'a'", "`array[N] vector[K] a`", "2 level(s)", "N x K"]),
        ({"m": [[1, 2], [3, 4]]}, ["matrix[N, K] m", "K = 3", "gives 2 values along dimension 2"]),
        ({"N": 3}, ["`array[N] vector[K] a` with N = 3", "gives 2 values along dimension 1"]),
        ({"c": [[0, 4], [1, 2]]}, ["c[1, 2] = 4 is above the declared upper bound K = 3"]),
        ({"w": [0.5, -2]}, ["w[2] = -2 is below the declared lower bound -1", "Stan variable 'w'"]),
        ({"s": "NaN"}, ["s = NaN fails the declared lower bound 0"]),
        ({"a": [[1, 2, 3], [4, 5]]}, ["a[2] is a list of 2 numbers, but a[1] is a list of 3"]),
        ({"s": True}, ["s is true, not a number"]),
        ({"w": [0.5, "high"]}, ['w[2] is "high", not a number']),
        ({"c": [[0, 1], [1, 2**40]]}, ["outside Stan's int range"]),
        ({"N": -1, "a": []}, ["with N = -1: a size cannot be negative"]),
    ],
    ids=[
        "real in int",
        "real in int array",
        "inf in int",
        "list for a scalar",
        "too few levels",
        "matrix columns",
        "size from N",
        "bound from K",
        "literal bound",
        "NaN with a bound",
        "ragged",
        "boolean",
        "text",
        "int range",
        "negative size",
    ],
)
def test_each_bad_value_names_the_file_the_variable_and_the_element(tmp_path, change, expected):
    message = error_of(tmp_path, SHAPES, {**shapes_data(), **change}, stan_data={"prior_only": 0})
    assert message.startswith(str(tmp_path / "data.json")), message
    for part in expected:
        assert part in message, message


def test_a_bound_violation_names_the_element_with_stans_1_based_index(tmp_path):
    data = kidiq_data()
    data["kid_score"][16] = 250
    message = error_of(tmp_path, KIDIQ, data)
    assert str(tmp_path / "data.json") in message
    assert "kid_score[17] = 250 is above the declared upper bound 200" in message


def test_a_declared_variable_missing_from_file_and_stan_data_is_named(tmp_path):
    data = {k: v for k, v in kidiq_data().items() if k != "mom_hs"}
    message = error_of(tmp_path, KIDIQ, data)
    assert "Stan variable 'mom_hs'" in message and "vector<lower=0, upper=1>[N] mom_hs" in message
    assert "neither in this data file nor in models.m.stan_data" in message
    # prior_only may be left out: the workflow sets it (SHAPES declares it, the file lacks it)
    run(tmp_path, SHAPES, shapes_data())


def test_stan_data_literals_are_added_and_checked_and_a_clash_names_both(tmp_path):
    program = KIDIQ.replace(
        "int<lower=0> N;", "int<lower=0> N;\n  int<lower=0, upper=1> prior_only;"
    )
    _, data = run(tmp_path, program, kidiq_data(), stan_data={"prior_only": 1})
    assert data["prior_only"] == 1
    message = error_of(tmp_path, program, kidiq_data(), stan_data={"N": 20})
    assert "models.m.stan_data.N" in message and str(tmp_path / "data.json") in message
    assert "give it in one place" in message
    message = error_of(tmp_path, program, kidiq_data(), stan_data={"prior_only": 2})
    assert message.startswith("models.m.stan_data.prior_only: prior_only = 2 is above")


def test_a_hand_written_stan_data_entry_the_program_lacks_is_an_error(tmp_path):
    message = error_of(tmp_path, KIDIQ, kidiq_data(), stan_data={"prior_onyl": 0})
    assert "models.m.stan_data.prior_onyl: the program declares no data variable" in message


def test_table_forms_in_stan_data_are_refused_for_a_json_file(tmp_path):
    for form in ("rows", {"column": "kid_score"}):
        message = error_of(tmp_path, KIDIQ, kidiq_data(), stan_data={"N": form})
        assert "models.m.stan_data.N" in message and "reads a table" in message
        assert "only add literals" in message


def test_heldout_is_refused_for_a_json_block_before_any_file_is_read(tmp_path):
    entry = {"program": "x.stan", "data": "absent.json", "heldout": {"fraction": 0.2}}
    with pytest.raises(InputError, match=r"models\.m\.heldout: held-out scoring needs rows"):
        check_block("m", entry)
    message = error_of(tmp_path, KIDIQ, kidiq_data(), heldout={"fraction": 0.2, "seed": 1})
    assert "models.m.heldout" in message and "CmdStan JSON data file" in message


def test_a_table_still_needs_stan_data():
    with pytest.raises(InputError, match=r"models\.m: missing key 'stan_data': a table"):
        check_block("m", {"program": "x.stan", "data": "t.csv"})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"N": 20, "kid_score": [1, 2,', "not valid JSON (line 1, column"),
        ("[1, 2, 3]", "expected a JSON object mapping each Stan data variable"),
        ("", "not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_json_object_is_named(tmp_path, text, expected):
    message = error_of(tmp_path, KIDIQ, text)
    assert message.startswith(str(tmp_path / "data.json")) and expected in message, message


def test_a_missing_data_file_is_named(tmp_path):
    stan = tmp_path / "program.stan"
    stan.write_text(KIDIQ)
    entry = {"program": str(stan), "data": str(tmp_path / "absent.json")}
    with pytest.raises(InputError, match="absent.json: data file not found"):
        prepare("m", entry, entry["data"], stan, tmp_path / "d.json", tmp_path / "c.json")


def test_the_schema_takes_json_without_stan_data_and_a_table_needs_it():
    def errors(block):
        return config_errors({"models": {"m": {"program": "p.stan", **block}}})

    assert not [e for e in errors({"data": "d.json"}) if e.startswith("models")]
    assert not [
        e for e in errors({"data": "d.json", "stan_data": {"prior_only": 0}}) if "models" in e
    ]
    assert "models.m: 'stan_data' is a required property" in errors({"data": "t.csv"})
    assert any(e.startswith("models.m.data") for e in errors({"data": "d.txt"}))


def test_the_json_file_is_fingerprinted_as_a_raw_input(tmp_path):
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps(kidiq_data()))
    config = {"models": {"m": {"program": "p.stan", "data": str(data_file)}}}
    keys = ANALYSES["models"].data_keys

    def prints():
        return data_fingerprints(tmp_path, config, keys, HashCache(None))["models.m.data"]

    before = prints()
    data_file.write_text(json.dumps({**kidiq_data(), "N": 19}))
    assert before != prints() and len(before) == 64


def test_a_stan_error_of_a_json_block_is_named_by_the_file(tmp_path, monkeypatch):
    """fit()'s mapping of Stan's message to table rows does not apply: the file is named."""
    from bayespipe.engines.stan import engine

    card, _ = run(tmp_path, KIDIQ, kidiq_data())

    class Failing:
        def fit_with_prior(self, *args, **kwargs):
            raise engine.StanEngineError("Exception: kid_score[3] is nan, but must be finite!")

    monkeypatch.setattr(engine, "get_engine", lambda name: Failing())
    data_file = str(tmp_path / "data.json")
    inputs = {
        "program": str(tmp_path / "program.stan"),
        "stan_data": str(tmp_path / "d.json"),
        "table": data_file,
        "stamp": str(tmp_path / "stamp.json"),
    }
    entry = {"program": inputs["program"], "data": data_file}
    with pytest.raises(InputError) as error:
        fit("m", entry, inputs, {}, engine="cmdstanpy", sampler={}, thresholds={})
    assert str(error.value) == f"{data_file}: Exception: kid_score[3] is nan, but must be finite!"


PROGRAMS: dict[str, Path] = {}


def fuzz_program(tmp_path_factory, text: str) -> Path:
    """One program file per text for all examples (stanc reads each file once)."""
    if text not in PROGRAMS:
        PROGRAMS[text] = tmp_path_factory.mktemp("program") / "program.stan"
        PROGRAMS[text].write_text(text)
    return PROGRAMS[text]


FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.sampled_from(["NaN", "inf", "-inf", "x", ""])
    | st.integers(min_value=-2, max_value=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=2), inner),
    max_leaves=12,
)


@FUZZ
@given(
    changes=st.dictionaries(st.sampled_from([*shapes_data(), "extra"]), JSON_VALUES, max_size=3),
    dropped=st.sets(st.sampled_from(list(shapes_data())), max_size=1),
)
def test_any_json_values_build_or_name_the_file(tmp_path_factory, changes, dropped):
    """Generated values over a good file: they build, or an InputError names the file."""
    tmp_path = tmp_path_factory.mktemp("fuzz")
    data = {k: v for k, v in {**shapes_data(), **changes}.items() if k not in dropped}
    try:
        _, built = run(tmp_path, fuzz_program(tmp_path_factory, SHAPES), data)
    except InputError as error:
        assert error.path == str(tmp_path / "data.json"), error
        return
    assert set(built) == set(shapes_data())


@FUZZ
@given(content=st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_any_bytes_build_or_name_the_file(tmp_path_factory, content):
    tmp_path = tmp_path_factory.mktemp("bytes")
    stan, data_file = fuzz_program(tmp_path_factory, KIDIQ), tmp_path / "data.json"
    data_file.write_bytes(content)
    entry = {"program": str(stan), "data": str(data_file)}
    try:
        prepare("m", entry, data_file, stan, tmp_path / "d.json", tmp_path / "c.json")
    except InputError as error:
        assert error.path == str(data_file), error


@pytest.fixture
def posteriordb():
    if not POSTERIORDB.is_dir():
        message = f"posteriordb's data sets are not here ({POSTERIORDB} is absent)"
        print(f"SKIPPED: {message}")
        pytest.skip(message)
    return POSTERIORDB


def test_posteriordb_kidiq_builds_with_its_other_programs_variables_ignored(tmp_path, posteriordb):
    folder = posteriordb / "kidiq-kidscore_momhs"
    entry = {"program": str(folder / "program.stan"), "data": str(folder / "data.json")}
    card = prepare(
        "pdb", entry, entry["data"], entry["program"], tmp_path / "d.json", tmp_path / "c.json"
    )
    assert card["ignored_variables"] == ["mom_iq", "mom_hs_new", "mom_iq_new"]
    data = load_stan_data(tmp_path / "d.json")
    assert data["N"] == 434 and data["kid_score"].shape == (434,) and data["mom_hs"].shape == (434,)
    # the same file with one score out of the program's bounds stops before any compile
    broken = json.loads((folder / "data.json").read_text())
    broken["kid_score"][16] = 250
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    with pytest.raises(InputError) as error:
        prepare(
            "pdb",
            {**entry, "data": str(tmp_path / "broken.json")},
            tmp_path / "broken.json",
            entry["program"],
            tmp_path / "d2.json",
            tmp_path / "c2.json",
        )
    assert str(error.value).startswith(str(tmp_path / "broken.json"))
    assert "kid_score[17] = 250 is above the declared upper bound 200" in str(error.value)


def test_posteriordb_eight_schools_arrays_of_reals(tmp_path, posteriordb):
    folder = posteriordb / "eight_schools-eight_schools_noncentered"
    entry = {"program": str(folder / "program.stan"), "data": str(folder / "data.json")}
    card = prepare(
        "pdb", entry, entry["data"], entry["program"], tmp_path / "d.json", tmp_path / "c.json"
    )
    assert card["ignored_variables"] == [] and card["stan_data"] == {
        "J": "8",
        "y": "8",
        "sigma": "8",
    }
    assert load_stan_data(tmp_path / "d.json")["sigma"].tolist()[:2] == [15.0, 10.0]
