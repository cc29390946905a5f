"""make run's one attempt per set-up to have CmdStan, and its quick fallback to PyStan."""

from __future__ import annotations

import json
import time

import pytest

from bayespipe import cmdstan_setup


@pytest.fixture(autouse=True)
def no_cmdstan_env(monkeypatch):
    monkeypatch.delenv("CMDSTAN", raising=False)


def fail(*_):
    raise AssertionError("must not be called")


def test_found_cmdstan_does_nothing(tmp_path):
    stamp = tmp_path / "stamp"
    assert cmdstan_setup.ensure_cmdstan(stamp, found=lambda: True, probe=fail) is None
    assert not stamp.exists()


def test_unreachable_falls_back_once_with_the_reason(tmp_path):
    stamp = tmp_path / "stamp"
    line = cmdstan_setup.ensure_cmdstan(
        stamp, found=lambda: False, probe=lambda: "github.com unreachable (no route)",
        installer=fail,
    )
    assert line.startswith("bayespipe: no CmdStan, running Stan on PyStan: github.com unreachable")
    assert "\n" not in line
    assert json.loads(stamp.read_text()) == {
        "installed": False, "reason": "github.com unreachable (no route)"
    }
    # the next run neither probes nor installs, and says the same thing
    again = cmdstan_setup.ensure_cmdstan(stamp, found=lambda: False, probe=fail, installer=fail)
    assert "github.com unreachable" in again and "tried once at set-up" in again


def test_installer_failure_is_recorded(tmp_path):
    stamp = tmp_path / "stamp"
    line = cmdstan_setup.ensure_cmdstan(
        stamp, found=lambda: False, probe=lambda: None, installer=lambda t: f"timed out {t:.0f}",
        timeout=7,
    )
    assert "timed out 7" in line
    assert json.loads(stamp.read_text())["installed"] is False


def test_successful_install(tmp_path):
    stamp = tmp_path / "stamp"
    found = iter([False, True])
    line = cmdstan_setup.ensure_cmdstan(
        stamp, found=lambda: next(found), probe=lambda: None, installer=lambda t: None
    )
    assert line == "bayespipe: installed CmdStan with CmdStanPy"
    assert json.loads(stamp.read_text()) == {"installed": True, "reason": None}


def test_env_cmdstan_skips_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("CMDSTAN", "/somewhere")
    assert cmdstan_setup.ensure_cmdstan(tmp_path / "s", found=fail, probe=fail) is None


def test_probe_of_a_closed_port_is_quick():
    started = time.perf_counter()
    reason = cmdstan_setup.reachable(("127.0.0.1", 9), timeout=2)
    assert reason is not None and "127.0.0.1 unreachable" in reason
    assert time.perf_counter() - started < 3
