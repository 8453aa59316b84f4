"""Keyed random numbers: every draw is a pure function of (seed, run, what it is about, index).

docs/design.md asks that run i of every scenario use the root `SeedSequence(seed, spawn_key=(i,))` and
that each draw be keyed by what it is about (a stream's amount in a year, a project's lead time, a
month's disruptions), never by the order in which events happen. A sequential generator threaded
through the event loop cannot give that: one extra event would shift every later draw. So the run's
root SeedSequence yields one 64-bit run key, and each draw is that key hashed with a stable key of
the draw's name through the SplitMix64 finaliser (a counter-based generator, as in Salmon et al.,
"Parallel random numbers: as easy as 1, 2, 3"), all in one vectorised numpy call per run. Creating a
numpy Generator per key would cost about 20 microseconds each, more than the rest of a draw budget.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S12 = (np.uint64(n) for n in (30, 27, 31, 12))
_TO_UNIT = 2.0**-52


def _fmix64(x: np.ndarray) -> np.ndarray:
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


def name_key(name: str) -> int:
    """A stable 64-bit key for a draw's name (the same in every process and Python version)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def run_key(seed: int, run: int) -> np.uint64:
    """The 64-bit key of run `run`, from the root `SeedSequence(seed, spawn_key=(run,))`."""
    root = np.random.SeedSequence(seed, spawn_key=(run,))
    return root.generate_state(1, dtype=np.uint64)[0]


# numpy's SeedSequence constants (numpy/random/bit_generator.pyx).
_POOL, _INIT_A, _MULT_A, _INIT_B, _MULT_B = 4, 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R, _XSHIFT, _MASK32 = 0xCA01F9DD, 0x4973F715, 16, 0xFFFFFFFF


def _words(x: int) -> list[int]:
    """A non-negative integer as 32-bit words, least significant first (as SeedSequence reads it)."""
    words = [x & _MASK32]
    while x := x >> 32:
        words.append(x & _MASK32)
    return words


def run_keys(seed: int, start: int, stop: int) -> np.ndarray:
    """`run_key` of runs [start, stop) in one vectorised pass: SeedSequence's hash is 32-bit integer
    arithmetic whose constants do not depend on the data, so it runs on a column of runs and gives
    every key to the bit (tests/test_rng.py checks it against numpy). One SeedSequence a run cost
    about 8 µs, a fiftieth of a compiled run. Run numbers past 2**32 (two words each) take numpy's
    own path."""
    if stop > 2**32:
        return np.array([run_key(seed, run) for run in range(start, stop)], dtype=np.uint64)
    runs = np.arange(start, stop, dtype=np.int64).astype(np.uint32)
    return _hash(_words(seed), runs)


def _hash(seed_words: list[int], runs: np.ndarray) -> np.ndarray:
    """SeedSequence(seed, spawn_key=(run,)).generate_state(1, uint64) for a column of runs."""
    u32 = np.uint32
    n = len(runs)
    entropy = [np.full(n, w, dtype=u32) for w in seed_words]
    entropy += [np.zeros(n, dtype=u32)] * (_POOL - len(entropy))  # padded when a spawn key follows
    entropy.append(runs)
    hash_const = [_INIT_A]

    def hashmix(value: np.ndarray) -> np.ndarray:
        value = value ^ u32(hash_const[0])
        hash_const[0] = (hash_const[0] * _MULT_A) & _MASK32
        value = value * u32(hash_const[0])
        return value ^ (value >> u32(_XSHIFT))

    def mix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        result = u32(_MIX_L) * x - u32(_MIX_R) * y
        return result ^ (result >> u32(_XSHIFT))

    mixer = [hashmix(entropy[i]) for i in range(_POOL)]
    for i_src in range(_POOL):
        for i_dst in range(_POOL):
            if i_src != i_dst:
                mixer[i_dst] = mix(mixer[i_dst], hashmix(mixer[i_src]))
    for i_src in range(_POOL, len(entropy)):
        for i_dst in range(_POOL):
            mixer[i_dst] = mix(mixer[i_dst], hashmix(entropy[i_src]))
    hash_b = _INIT_B
    state = []
    for i in range(2):  # two 32-bit words make the one 64-bit key
        value = mixer[i % _POOL] ^ u32(hash_b)
        hash_b = (hash_b * _MULT_B) & _MASK32
        value = value * u32(hash_b)
        state.append((value ^ (value >> u32(_XSHIFT))).astype(np.uint64))
    return state[0] | (state[1] << np.uint64(32))


class DrawCatalogue:
    """The named draws one run needs, laid out once per scenario; `uniforms` fills them per run."""

    def __init__(self) -> None:
        self._names: list[str] = []
        self._slices: dict[str, slice] = {}
        self._keys: np.ndarray | None = None

    def add(self, group: str, names: Iterable[str]) -> None:
        """Register a group of draws (e.g. one stream's yearly amounts), each with a unique name."""
        names = list(names)
        start = len(self._names)
        self._names.extend(f"{group}/{n}" for n in names)
        self._slices[group] = slice(start, start + len(names))
        self._keys = None

    @property
    def size(self) -> int:
        return len(self._names)

    def uniforms(self, seed: int, run: int) -> np.ndarray:
        """Uniforms in (0, 1), one per registered draw, for this seed and run."""
        return self.uniforms_many(seed, run, run + 1)[0]

    def uniforms_many(self, seed: int, start: int, stop: int) -> np.ndarray:
        """`uniforms` of runs [start, stop), one row a run, in one vectorised pass (the integer
        hashing is exact, so each row is bit for bit that run's `uniforms`)."""
        if self._keys is None:
            self._keys = np.array([name_key(n) for n in self._names], dtype=np.uint64)
        runs = run_keys(seed, start, stop)
        x = _fmix64(self._keys[np.newaxis, :] ^ runs[:, np.newaxis])
        x = _fmix64(x + _GOLDEN)
        # 52 bits plus a half: strictly inside (0, 1) (53 bits plus a half can round up to 1.0).
        return ((x >> _S12).astype(np.float64) + 0.5) * _TO_UNIT

    def slice(self, group: str) -> slice:
        return self._slices[group]

    def groups(self) -> Sequence[str]:
        return list(self._slices)
