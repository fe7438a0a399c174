"""Counter-based random numbers computed on the device with standard integer operations.

Per-step randomness (dropout masks, augmentation) cannot come from the host without a transfer
every step, and each library's own device generator gives different numbers. Instead, the n-th
number of a stream is a pure function of (key, n): SplitMix64's output function applied to the
Weyl sequence ``key + n·γ`` (Steele, Lea & Flood 2014), written with uint64 multiply, xor and
shifts. Every Array API library wraps uint64 arithmetic the same way, so NumPy, CuPy and
array-api-strict produce bit-identical numbers, and any stream can be recomputed from its key.

Keys are derived from (seed, purpose, epoch, step, layer) with the same mixer, so different
streams never overlap in practice: on the host as Python ints, or on the device from a
:class:`DeviceKey`, whose bits live in a device array refilled in place before each training step
(a captured step reads them by address). Both derivations give the same numbers.
"""

from __future__ import annotations

from array_api_compat import is_torch_namespace
from array_api_compat import device as device_of

from .arrays import array_namespace

_GAMMA = 0x9E3779B97F4A7C15  # 2^64 / golden ratio, odd: n·γ visits every uint64 before repeating
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_MASK64 = (1 << 64) - 1


def _mix_int(z: int) -> int:
    """SplitMix64's finalizer on a Python int (host side, for keys)."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9 & _MASK64
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB & _MASK64
    return z ^ (z >> 31)


def stream_key(*parts):
    """A 64-bit key for one stream, e.g. ``stream_key(seed, purpose, epoch, step, layer)``.
    Derived from a :class:`ShardKey` or a :class:`DeviceKey`, the key keeps its rows; derived from
    a :class:`DeviceKey`, it is computed on the device (the same bits as on the host)."""
    first = parts[0] if parts else None
    if isinstance(first, DeviceKey):
        return first.derive(parts[1:])
    key = 0
    for part in parts:
        key = _mix_int((key + (int(part) & _MASK64) * _GAMMA + _GAMMA) & _MASK64)
    return ShardKey(key, first.start, first.total) if isinstance(first, ShardKey) else key


# --- shards of a batch (data-parallel training, distributed.py) -------------------------------
class ShardKey(int):
    """A key for rows ``start .. start + n`` of a batch of ``total`` rows: draws on a shard give
    exactly the numbers those rows get when the whole batch is drawn at once, so N ranks apply the
    dropout masks and augmentations of one process. Keys derived from it keep its rows."""

    start: int
    total: int

    def __new__(cls, key: int, start: int, total: int) -> "ShardKey":
        self = super().__new__(cls, key)
        self.start, self.total = int(start), int(total)
        return self


def _counters(xp, shape: tuple[int, ...], key, dtype, device, batch_axis: int):
    """The counter n of every element: its row-major position in the whole batch's draw."""
    count = 1
    for size in shape:
        count *= int(size)
    total = getattr(key, "total", None)  # a ShardKey's or DeviceKey's rows
    if total is None or (key.start == 0 and total == shape[batch_axis]):
        return xp.arange(count, dtype=dtype, device=device)
    outer, rows = 1, int(shape[batch_axis])
    for size in shape[:batch_axis]:
        outer *= int(size)
    inner = count // max(outer * rows, 1)
    n = (xp.reshape(xp.arange(outer, dtype=dtype, device=device), (-1, 1, 1)) * (key.total * inner)
         + xp.reshape(xp.arange(rows, dtype=dtype, device=device) + key.start, (1, -1, 1)) * inner
         + xp.reshape(xp.arange(inner, dtype=dtype, device=device), (1, 1, -1)))
    return xp.reshape(n, (-1,))
# --- end shards


# --- keys held on the device ------------------------------------------------------------------
class DeviceKey:
    """A key whose 64 bits live in a (1,) device array: uint64, or int64 holding the same bits
    where uint64 arithmetic is missing (PyTorch; ``signed``). ``start``/``total`` are a
    :class:`ShardKey`'s rows (``total`` None: the whole batch). Keys derived from it are computed
    on the device."""

    def __init__(self, bits, start: int = 0, total: int | None = None, signed: bool | None = None):
        self.bits, self.start, self.total = bits, int(start), total
        self.signed = _is_signed(bits) if signed is None else signed

    @classmethod
    def on(cls, xp, device) -> "DeviceKey":
        """A key buffer on ``device`` (zero until :meth:`set`)."""
        signed = is_torch_namespace(xp)
        return cls(xp.zeros((1,), dtype=xp.int64 if signed else xp.uint64, device=device), signed=signed)

    def set(self, key: int) -> None:
        """Write the host key ``key`` into the buffer in place."""
        self.bits[...] = _signed(int(key)) if self.signed else int(key)

    def rows(self, start: int, total: int) -> "DeviceKey":
        """The same buffer as the key of rows ``start ..`` of a batch of ``total``."""
        return DeviceKey(self.bits, start, total, self.signed)

    def derive(self, parts) -> "DeviceKey":
        """``stream_key(self, *parts)`` on the device: the host's mixing in array operations."""
        signed = self.signed
        z = _mix_bits(self.bits * _constant(_GAMMA, signed) + _constant(_GAMMA, signed), signed)
        for part in parts:
            z = _mix_bits(z + _constant(((int(part) & _MASK64) * _GAMMA + _GAMMA) & _MASK64, signed), signed)
        return DeviceKey(z, self.start, self.total, signed)


def _is_signed(bits) -> bool:
    return is_torch_namespace(array_namespace(bits))


def _constant(value: int, signed: bool) -> int:
    return _signed(value) if signed else value


def _key_bits(key, signed: bool):
    """What is added to the counters: a host key as a constant, a device key as its array."""
    return key.bits if isinstance(key, DeviceKey) else _constant(int(key), signed)
# --- end keys held on the device


def _mix_bits(z, signed: bool):
    """SplitMix64's finalizer on an array of uint64 bits (or of int64 holding them)."""
    z = (z ^ _shift(z, 30, signed)) * _constant(_MIX1, signed)
    z = (z ^ _shift(z, 27, signed)) * _constant(_MIX2, signed)
    return z ^ _shift(z, 31, signed)


def random_bits(xp, shape: tuple[int, ...], key, device, batch_axis: int = 0):
    """uint64 random bits of ``shape``: element n of the stream ``key`` (row-major order; for a
    :class:`ShardKey`, the position in the whole batch along ``batch_axis``)."""
    z = _counters(xp, shape, key, xp.uint64, device, batch_axis) * _GAMMA + _key_bits(key, False)
    return xp.reshape(_mix_bits(z, False), shape)


# PyTorch has uint64 tensors but no uint64 arithmetic. There the same stream is computed in int64,
# whose +, * and ^ wrap exactly like uint64's (two's complement); only right shifts (made logical
# by a mask), comparisons and remainders need care. The consumers below give identical numbers on
# both paths.


def _signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _shift(z, bits: int, signed: bool):
    """Logical right shift of uint64 bits held in ``z``."""
    return (z >> bits) & ((1 << (64 - bits)) - 1) if signed else z >> bits


def _stream(xp, shape: tuple[int, ...], key, device, batch_axis: int = 0):
    """(bits, signed): the stream as uint64, or as int64 bits where uint64 arithmetic is missing."""
    if not is_torch_namespace(xp):
        return random_bits(xp, shape, key, device, batch_axis), False
    z = _counters(xp, shape, key, xp.int64, device, batch_axis) * _signed(_GAMMA) + _key_bits(key, True)
    return xp.reshape(_mix_bits(z, True), shape), True


def random_integers(xp, shape: tuple[int, ...], key, n: int, device, batch_axis: int = 0):
    """Integers in [0, n) as int64: the stream's uint64 bits modulo ``n``."""
    bits, signed = _stream(xp, shape, key, device, batch_axis)
    if not signed:
        return xp.astype(bits % n, xp.int64)
    # u % n from u = 2·(u >>> 1) + (u & 1), with every term non-negative in int64.
    return (2 * (_shift(bits, 1, True) % n) + (bits & 1)) % n


def uniform(xp, shape: tuple[int, ...], key, dtype, device, batch_axis: int = 0):
    """Floats in [0, 1) from the top 24 bits (exact in float32 and float64)."""
    bits, signed = _stream(xp, shape, key, device, batch_axis)
    return xp.astype(_shift(bits, 40, signed), dtype) * (1.0 / (1 << 24))


def keep_mask(like, rate: float, key):
    """Inverted-dropout multipliers for an array like ``like``: 0 with probability ``rate``,
    else 1 / (1 − rate), so the expected activation is unchanged and evaluation needs no scaling."""
    xp = array_namespace(like)
    threshold = min(int(rate * 2.0**64), _MASK64)
    bits, signed = _stream(xp, tuple(like.shape), key, device_of(like))
    if signed:  # an unsigned comparison is a signed one with the top bits flipped
        keep = (bits ^ _signed(1 << 63)) >= _signed(threshold ^ (1 << 63))
    else:
        keep = bits >= threshold
    return xp.astype(keep, like.dtype) * (1.0 / (1.0 - rate))
