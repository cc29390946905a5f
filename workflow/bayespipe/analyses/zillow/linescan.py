"""Pick lines of a large CSV file by the integer id that leads each line, before any CSV parsing.

The file is read in blocks of ``BLOCK_BYTES`` into one reused buffer and handled as numpy bytes:
line ends, the leading ids of every line (parsed for all lines of a block at once) and the
wanted lines are found without a Python loop over lines, so memory stays flat whatever the
file's size and only the wanted lines are left to parse.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bayespipe.errors import InputError

# Bytes read per block: memory stays flat whatever the file's size.
BLOCK_BYTES = 16 << 20
ID_WIDTHS = (11, 20)  # bytes looked at for the leading id: Kaggle's parcel ids have 8 or 9 digits


def _first_commas(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, width: int):
    offsets = np.arange(width)
    window = buffer[np.minimum(starts[:, None] + offsets, len(buffer) - 1)]
    is_comma = (window == ord(",")) & (starts[:, None] + offsets < ends[:, None])
    return window, np.where(is_comma.any(axis=1), is_comma.argmax(axis=1), -1)


def _leading_ids(
    path: Path,
    buffer: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    first_row: int,
    id_column: str,
) -> np.ndarray:
    """The integer before the first comma of each line, parsed for all lines at once."""
    window, width = _first_commas(buffer, starts, ends, ID_WIDTHS[0])
    ids = np.zeros(len(starts), np.int64)
    bad = width < 1
    if bad.any():  # a long id or a malformed line: look further along those lines only
        slow = np.flatnonzero(bad)
        wide, wide_width = _first_commas(buffer, starts[slow], ends[slow], ID_WIDTHS[1])
        bad[slow] = wide_width < 1
        for w in np.flatnonzero(np.bincount(wide_width[wide_width > 0])):
            rows = np.flatnonzero(wide_width == w)
            ids[slow[rows]], bad[slow[rows]] = _digits(wide[rows, :w])
    for w in np.flatnonzero(np.bincount(np.maximum(width, 0))):
        if w == 0:
            continue
        # ids of one width at a time: a small matrix-vector product
        rows = np.flatnonzero(width == w)
        ids[rows], bad[rows] = _digits(window[rows, :w])
    if bad.any():
        line = int(np.flatnonzero(bad)[0])
        text = bytes(buffer[starts[line] : min(ends[line], starts[line] + 40)]).decode(
            errors="replace"
        )
        raise InputError(
            path,
            f"expected a whole-number {id_column} first in every row, got {text!r}",
            column=id_column,
            row=first_row + line,
        )
    return ids


def _digits(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, not-all-digits) of each row of an (n, w) byte matrix."""
    digits = text.astype(np.int64) - ord("0")
    powers = 10 ** np.arange(text.shape[1] - 1, -1, -1, dtype=np.int64)
    return digits @ powers, ((digits < 0) | (digits > 9)).any(axis=1)


def _blocks(path: Path, size: int = BLOCK_BYTES):
    """Yield (header line, block of whole lines) as numpy bytes, reading ``size`` bytes at a time.

    Each block is read into one reused buffer and completed to the end of its last line, so no
    block is copied; a block is only valid until the next one is read.
    """
    store = bytearray(size + (1 << 20))
    with Path(path).open("rb") as handle:
        head = handle.readline()
        while True:
            n = handle.readinto(memoryview(store)[:size])
            if not n:
                return
            rest = handle.readline() if store[n - 1] != ord("\n") else b""
            if n + len(rest) + 1 > len(store):
                store.extend(b"\0" * (n + len(rest) + 1 - len(store)))
            store[n : n + len(rest)] = rest
            n += len(rest)
            if store[n - 1] != ord("\n"):  # last line of a file without a final newline
                store[n] = ord("\n")
                n += 1
            yield head, np.frombuffer(store, np.uint8, count=n)


def _gather(buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> bytes:
    """The bytes of the given lines (newline included), concatenated without a Python loop."""
    lengths = ends - starts + 1
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return buffer[np.arange(lengths.sum()) + offsets].tobytes()


def select_lines(path: Path, wanted: np.ndarray, id_column: str):
    """One pass over the file: every leading id, and the full lines of the wanted ids.

    Returns (header line, picked lines as byte strings, their 1-based row numbers, every id).

    The id leads every line and no record spans lines (the Kaggle layout), so lines can be
    picked by id before any CSV parsing; only the picked lines are then parsed, typed and
    range-checked in full by the caller (the other lines are checked for their id only).
    """
    wanted = np.unique(wanted)
    ids, picked, picked_rows, head, row = [], [], [], b"", 1
    # head (the header line) is returned after the loop
    for head, buffer in _blocks(path):  # noqa: B007
        ends = np.flatnonzero(buffer == ord("\n"))
        starts = np.concatenate([[0], ends[:-1] + 1])
        keep = (ends - starts) > (buffer[np.maximum(ends - 1, 0)] == ord("\r"))  # skip blank lines
        starts, ends = starts[keep], ends[keep]
        block_ids = _leading_ids(path, buffer, starts, ends, row, id_column)
        ids.append(block_ids)
        if len(wanted):
            position = np.minimum(np.searchsorted(wanted, block_ids), len(wanted) - 1)
            lines = np.flatnonzero(wanted[position] == block_ids)
            picked.append(_gather(buffer, starts[lines], ends[lines]))
            picked_rows.append(row + lines)
        row += len(starts)
    rows = np.concatenate(picked_rows) if picked_rows else np.zeros(0, np.int64)
    return head, picked, rows, (np.concatenate(ids) if ids else np.zeros(0, np.int64))
