"""The registry of per-run fields: declared per file kind, set aside exactly, nothing guessed."""

from __future__ import annotations

from bayespipe.audit import volatile


def test_declared_fields_go_and_nothing_else():
    data = {
        "train_seconds": 3.0,
        "start_time": "x",
        "evaluations": [
            {"step": 1, "evaluation_seconds": 0.5},
            {"step": 2, "evaluation_seconds": 0.7},
        ],
    }
    kept = volatile.without_fields(data, ("train_seconds", "evaluations.*.evaluation_seconds"))
    assert kept == {"start_time": "x", "evaluations": [{"step": 1}, {"step": 2}]}
    assert volatile.without_fields(data, ()) == data


def test_kinds_come_from_their_writers_and_the_analyses_declarations():
    from bayespipe.catalog import ANALYSES
    from bayespipe.engines.stan import outputs

    assert (
        volatile.kind_of("tadpoles/fit/diagnostics.json").fields
        == (outputs.VOLATILE_FIELDS["diagnostics"])
    )
    lenet_metrics = next(k for k in ANALYSES["mnist"].outputs if k.name == "LeNet metrics")
    assert volatile.kind_of("mnist/train/metrics.json") == lenet_metrics
    assert volatile.kind_of("models/eight_schools/metrics.json").fields == ("sampling_seconds",)
    assert volatile.kind_of("zillow/logs/zillow_merge.log").per_run
    assert volatile.kind_of("zillow/data/raw/synthetic_truth.json") is None


def test_no_field_is_declared_twice_and_every_kind_names_its_files():
    for kind in volatile.registry():
        assert kind.patterns and kind.name
        assert len(set(kind.fields)) == len(kind.fields), kind.name
        assert kind.per_run or kind.fields, f"{kind.name}: a kind with nothing per-run is no kind"


def test_columns_are_dropped_by_name():
    rows = [["sampler", "wall_seconds", "ess"], ["NUTS", "1.2", "300"]]
    kept = volatile.without_columns(rows, ("wall_seconds",))
    assert kept == [["sampler", "ess"], ["NUTS", "300"]]


def test_declared_matches_paths_below_a_field():
    fields = ("evaluations.*.evaluation_seconds", "inputs.*")
    assert volatile.declared("evaluations.3.evaluation_seconds", fields)
    assert volatile.declared("inputs.results/x.csv", fields)
    assert not volatile.declared("evaluations.3.heldout_accuracy", fields)
    assert not volatile.declared("missing_completely_at_random", fields)
