"""The embedded model's weights as llama.cpp runs them fastest on a CPU: the shipped Q4_1 GGUF
rewritten once with its Q4_1 tensors as Q8_0, kept in muspsy's cache folder.

llama.cpp repacks Q8_0 (and Q4_0) weights into its interleaved CPU kernels, not Q4_1: on the
2-core development machine the Q8_0 copy processed prompts 1.6-2x as fast, at the same
generation speed; the quickstart arc took 0.76x the time (`python benchmarks/embedded.py
--only after q4_1`). Q8_0 holds every Q4_1 value to within 1/254 of its block's largest
magnitude, so the model is the same model. The file is rebuilt
when the shipped one changes, written to a temporary name and renamed, so a killed conversion
leaves nothing half-written behind. Only GGUF's own layout is read and written here (header,
metadata copied byte for byte, tensor table, aligned tensor data); no other library.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

# ggml tensor types used here, and their block layouts (32 values per block).
F16, Q4_1, Q8_0 = 1, 3, 8
BLOCK = 32
Q4_1_BYTES = 20  # f16 scale, f16 minimum, 16 bytes of 4-bit values
Q8_0_BYTES = 34  # f16 scale, 32 signed bytes
# Bump when the rewrite changes, so cached copies of an older rewrite are rebuilt.
REWRITE_VERSION = 1

# GGUF metadata value types and the fixed sizes of the scalar ones.
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


class WeightsError(ValueError):
    """The GGUF file is not one this rewrite understands."""


@dataclass
class TensorInfo:
    name: bytes
    dims: list[int]
    kind: int
    offset: int

    @property
    def values(self) -> int:
        return int(np.prod(self.dims)) if self.dims else 1


def cache_dir() -> Path:
    """`MUSPSY_CACHE_DIR`, else `$XDG_CACHE_HOME/muspsy`, else `~/.cache/muspsy`."""
    if os.environ.get("MUSPSY_CACHE_DIR"):
        return Path(os.environ["MUSPSY_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "muspsy"


def q8_0_copy(source: Path, folder: Path | None = None) -> Path:
    """The Q8_0 copy of `source`, built on first use; `source` itself when it has no Q4_1 tensor."""
    stat = source.stat()
    folder = folder or cache_dir()
    target = folder / f"{source.stem}.q8_0-v{REWRITE_VERSION}-{stat.st_size}-{stat.st_mtime_ns}.gguf"
    if target.exists():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f".partial-{os.getpid()}")
    try:
        with source.open("rb") as src, partial.open("wb") as out:
            if not rewrite_q4_1_as_q8_0(src, out):
                return source
        partial.replace(target)
    except WeightsError:
        raise
    except (struct.error, OverflowError, ValueError):
        raise WeightsError(f"{source}: truncated or corrupt GGUF file") from None
    finally:
        partial.unlink(missing_ok=True)
    return target


def rewrite_q4_1_as_q8_0(src: BinaryIO, out: BinaryIO) -> bool:
    """Copy a GGUF file with every Q4_1 tensor as Q8_0; False (nothing useful written) when
    there is no Q4_1 tensor."""
    magic, version, n_tensors, n_kv = struct.unpack("<4sIQQ", src.read(24))
    if magic != b"GGUF" or version < 2:
        raise WeightsError(f"not a GGUF v2+ file (magic {magic!r}, version {version})")
    alignment = 32
    for _ in range(n_kv):
        key = _read_string(src)
        kind = _u32(src)
        if key == b"general.alignment" and kind == 4:
            alignment = _u32(src)
        else:
            _skip_value(src, kind)
    metadata_end = src.tell()
    tensors = [_read_tensor_info(src) for _ in range(n_tensors)]
    if not any(t.kind == Q4_1 for t in tensors):
        return False
    data_start = _aligned(src.tell(), alignment)

    src.seek(0)
    out.write(src.read(metadata_end))  # header and metadata, unchanged
    new_sizes = [_size(Q8_0 if t.kind == Q4_1 else t.kind, t) for t in tensors]
    offset = 0
    for tensor, size in zip(tensors, new_sizes, strict=True):
        kind = Q8_0 if tensor.kind == Q4_1 else tensor.kind
        out.write(struct.pack("<Q", len(tensor.name)) + tensor.name + struct.pack("<I", len(tensor.dims)))
        out.write(struct.pack(f"<{len(tensor.dims)}Q", *tensor.dims) + struct.pack("<IQ", kind, offset))
        offset = _aligned(offset + size, alignment)
    out.write(b"\0" * (_aligned(out.tell(), alignment) - out.tell()))
    for tensor, size in zip(tensors, new_sizes, strict=True):
        src.seek(data_start + tensor.offset)
        raw = src.read(_size(tensor.kind, tensor))
        out.write(q8_0_blocks(q4_1_values(raw)) if tensor.kind == Q4_1 else raw)
        out.write(b"\0" * (_aligned(size, alignment) - size))
    return True


def q4_1_values(raw: bytes) -> np.ndarray:
    """The float32 values of Q4_1 blocks: value = scale * q + minimum, low nibbles first."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, Q4_1_BYTES)
    scale = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    minimum = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
    packed = blocks[:, 4:]
    q = np.concatenate([packed & 0x0F, packed >> 4], axis=1).astype(np.float32)
    return (q * scale + minimum).reshape(-1)


def q8_0_blocks(values: np.ndarray) -> bytes:
    """`values` (a multiple of 32) as Q8_0 blocks: value ~ scale * q, q in -127..127."""
    blocks = values.astype(np.float32).reshape(-1, BLOCK)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    scale = amax / 127.0
    inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale > 0)
    q = np.clip(np.rint(blocks * inverse), -127, 127).astype(np.int8)
    head = scale.astype(np.float16).view(np.uint8).reshape(-1, 2)
    return np.concatenate([head, q.view(np.uint8)], axis=1).tobytes()


def _size(kind: int, tensor: TensorInfo) -> int:
    if kind == Q4_1:
        return tensor.values // BLOCK * Q4_1_BYTES
    if kind == Q8_0:
        return tensor.values // BLOCK * Q8_0_BYTES
    if kind == F16:
        return tensor.values * 2
    if kind == 0:  # F32
        return tensor.values * 4
    raise WeightsError(f"tensor {tensor.name.decode(errors='replace')}: type {kind} is not one this rewrite copies")


def _aligned(offset: int, alignment: int) -> int:
    return offset + (-offset % alignment)


def _u32(src: BinaryIO) -> int:
    value: int = struct.unpack("<I", src.read(4))[0]
    return value


def _u64(src: BinaryIO) -> int:
    value: int = struct.unpack("<Q", src.read(8))[0]
    return value


def _read_string(src: BinaryIO) -> bytes:
    return src.read(_u64(src))


def _skip_value(src: BinaryIO, kind: int) -> None:
    if kind in _SCALAR_SIZES:
        src.seek(_SCALAR_SIZES[kind], os.SEEK_CUR)
    elif kind == _STRING:
        src.seek(_u64(src), os.SEEK_CUR)
    elif kind == _ARRAY:
        item_kind, count = _u32(src), _u64(src)
        if item_kind in _SCALAR_SIZES:
            src.seek(_SCALAR_SIZES[item_kind] * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _skip_value(src, item_kind)
    else:
        raise WeightsError(f"unknown GGUF metadata value type {kind}")


def _read_tensor_info(src: BinaryIO) -> TensorInfo:
    name = _read_string(src)
    dims = [_u64(src) for _ in range(_u32(src))]
    kind = _u32(src)
    return TensorInfo(name, dims, kind, _u64(src))
