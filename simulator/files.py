"""Writing files so that a crash never leaves a half-written one looking complete.

Every writer in fundsim (chunks, manifests, results, sweeps, saved scenarios, reports) goes through
`write_atomic`: bytes go to a temporary name beside the target, are flushed to disk and renamed into
place, which POSIX makes atomic on one filesystem. The sha256 it returns is what manifests record.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: `fundsim run` starts without pandas (issue 10)
    import pandas as pd


def write_atomic(path: Path, data: bytes) -> str:
    """Write bytes under a temporary name, flush to disk, rename into place; return the sha256."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks (results files can be hundreds of MB)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """A table as Parquet bytes (pyarrow), without its pandas index."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    return sink.getvalue().to_pybytes()
