"""CmdStan for ``make run`` where it can be had, PyStan where it cannot.

    python -m bayespipe.cmdstan_setup --stamp .venv/.cmdstan-attempt [--timeout 1800]

When ``CMDSTAN`` is unset and CmdStanPy finds no CmdStan, install one with CmdStanPy (as
``make cmdstan`` does: download from GitHub, build with the C++ toolchain), once per set-up:
the stamp records the attempt and its outcome, so later runs neither retry nor wait. Without a
network the attempt ends at a quick reachability check of GitHub (seconds), and the workflow's
``stan.engine: auto`` runs on PyStan; one line says why.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

DOWNLOAD_HOST = ("github.com", 443)  # CmdStan's releases
PROBE_SECONDS = 5.0
INSTALL_SECONDS = 1800  # download and build on 2 cores: 10-20 minutes with a network


def reachable(address=DOWNLOAD_HOST, timeout: float = PROBE_SECONDS) -> str | None:
    """None when a TCP connection to ``address`` opens within ``timeout``, else why not."""
    try:
        socket.create_connection(address, timeout=timeout).close()
    except OSError as exc:
        return f"{address[0]} unreachable ({exc.__class__.__name__}: {exc})"
    return None


def install(timeout: float) -> str | None:
    """Run CmdStanPy's installer; None on success, else why it failed."""
    command = [sys.executable, "-m", "cmdstanpy.install_cmdstan", "--cores", str(os.cpu_count())]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"CmdStanPy's installer did not finish within {timeout:.0f} s"
    if result.returncode:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        return f"CmdStanPy's installer failed: {last[0][:300]}"
    return None


def cmdstan_found() -> bool:
    from bayespipe import software

    return software.cmdstan_info() is not None


def ensure_cmdstan(
    stamp: str | Path,
    *,
    timeout: float = INSTALL_SECONDS,
    found: Callable[[], bool] = cmdstan_found,
    probe: Callable[[], str | None] = reachable,
    installer: Callable[[float], str | None] = install,
) -> str | None:
    """Try once per set-up to have CmdStan.

    Returns the line to print, or None when there is nothing to say (CmdStan is there).
    """
    if os.environ.get("CMDSTAN") or found():
        return None
    stamp = Path(stamp)
    if stamp.is_file():
        previous = json.loads(stamp.read_text())
        reason = previous.get("reason") or "the CmdStan installed at set-up is gone"
        return _fallback_line(reason, again=True)
    reason = probe() or installer(timeout)
    if reason is None and not found():
        reason = "CmdStanPy's installer finished but cmdstanpy.cmdstan_path() does not resolve"
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps({"installed": reason is None, "reason": reason}) + "\n")
    if reason is None:
        return "bayespipe: installed CmdStan with CmdStanPy"
    return _fallback_line(reason)


def _fallback_line(reason: str, again: bool = False) -> str:
    if again:
        when = " (tried once at set-up; `make cmdstan` or CMDSTAN=<path> to use CmdStan)"
    else:
        when = " (`make cmdstan` retries; CMDSTAN=<path> points at an existing CmdStan)"
    return f"bayespipe: no CmdStan, running Stan on PyStan: {reason}{when}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stamp", required=True, help="records the one attempt per set-up")
    parser.add_argument("--timeout", type=float, default=INSTALL_SECONDS)
    args = parser.parse_args()
    line = ensure_cmdstan(args.stamp, timeout=args.timeout)
    if line:
        print(line, file=sys.stderr)


if __name__ == "__main__":
    main()
