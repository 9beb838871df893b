"""The embedded model's Q8_0 copy: block arithmetic, the GGUF rewrite on a small hand-built
file, and the cache (built once, rebuilt for a changed source, nothing half-written left)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from muspsy.backends.weights import (
    Q4_1,
    Q8_0,
    WeightsError,
    q4_1_values,
    q8_0_blocks,
    q8_0_copy,
    rewrite_q4_1_as_q8_0,
)

pytestmark = pytest.mark.unit
ALIGN = 32


def _string(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


def _q4_1(scale: float, minimum: float, q: list[int]) -> bytes:
    low, high = q[:16], q[16:]
    packed = bytes(lo | (hi << 4) for lo, hi in zip(low, high, strict=True))
    return np.array([scale, minimum], dtype=np.float16).tobytes() + packed


def _q8_0_values(raw: bytes) -> np.ndarray:
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 34)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    return (blocks[:, 2:].copy().view(np.int8).astype(np.float32) * scale).reshape(-1)


def _gguf(tensors: list[tuple[bytes, list[int], int, bytes]]) -> bytes:
    """A GGUF v3 file: a string, an array and the alignment as metadata, then the tensors."""
    kv = [
        _string(b"general.name") + struct.pack("<I", 8) + _string(b"tiny"),
        _string(b"tokenizer.tokens") + struct.pack("<IIQ", 9, 8, 2) + _string(b"a") + _string(b"bc"),
        _string(b"general.alignment") + struct.pack("<II", 4, ALIGN),
    ]
    head = struct.pack("<4sIQQ", b"GGUF", 3, len(tensors), len(kv)) + b"".join(kv)
    infos, data = b"", b""
    for name, dims, kind, raw in tensors:
        infos += _string(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, kind, len(data))
        data += raw + b"\0" * (-len(raw) % ALIGN)
    body = head + infos
    return body + b"\0" * (-len(body) % ALIGN) + data


def _read(raw: bytes) -> tuple[bytes, list[tuple[bytes, int, bytes]]]:
    """(metadata bytes, [(name, type, data)]) of a file `_gguf` wrote, using sizes known here."""
    n_tensors, n_kv = struct.unpack_from("<QQ", raw, 8)
    pos = 24
    for _ in range(n_kv):
        (length,) = struct.unpack_from("<Q", raw, pos)
        pos += 8 + length
        (kind,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if kind == 8:
            pos += 8 + struct.unpack_from("<Q", raw, pos)[0]
        elif kind == 4:
            pos += 4
        else:  # the array of two strings
            pos += 12
            for _ in range(2):
                pos += 8 + struct.unpack_from("<Q", raw, pos)[0]
    metadata, table = raw[:pos], []
    for _ in range(n_tensors):
        (length,) = struct.unpack_from("<Q", raw, pos)
        name = raw[pos + 8 : pos + 8 + length]
        pos += 8 + length
        (n_dims,) = struct.unpack_from("<I", raw, pos)
        dims = struct.unpack_from(f"<{n_dims}Q", raw, pos + 4)
        kind, offset = struct.unpack_from("<IQ", raw, pos + 4 + 8 * n_dims)
        pos += 4 + 8 * n_dims + 12
        table.append((name, kind, offset, int(np.prod(dims))))
    start = pos + (-pos % ALIGN)
    assert all(offset % ALIGN == 0 for _, _, offset, _ in table)
    sizes = {0: 4, Q8_0: 34 / 32, Q4_1: 20 / 32}
    tensors = [(n, k, raw[start + o : start + o + int(v * sizes[k])]) for n, k, o, v in table]
    return metadata, tensors


def test_q4_1_blocks_decode_and_re_encode_as_q8_0_within_half_a_step():
    q = list(range(16)) + list(range(15, -1, -1))
    raw = _q4_1(0.5, -3.0, q) + _q4_1(0.0, 1.25, [7] * 32)
    values = q4_1_values(raw)
    assert values[:32].tolist() == [0.5 * v - 3.0 for v in q]  # low nibbles are the first 16
    assert values[32:].tolist() == [1.25] * 32  # a zero scale: the minimum throughout
    again = _q8_0_values(q8_0_blocks(values))
    for block, back in ((values[:32], again[:32]), (values[32:], again[32:])):
        assert np.abs(block - back).max() <= np.abs(block).max() / 254 + 1e-3


def test_the_rewrite_changes_only_the_q4_1_tensors_and_keeps_the_metadata(tmp_path):
    rng = np.random.default_rng(7)
    blocks = [(rng.uniform(0.01, 0.2), rng.uniform(-1, 0), rng.integers(0, 16, 32)) for _ in range(4)]
    quantized = b"".join(_q4_1(float(d), float(m), [int(v) for v in q]) for d, m, q in blocks)
    plain = rng.standard_normal(40).astype(np.float32).tobytes()
    source = _gguf([(b"norm.weight", [40], 0, plain), (b"blk.0.attn_q.weight", [64, 2], Q4_1, quantized)])
    src, out = tmp_path / "m.gguf", tmp_path / "m8.gguf"
    src.write_bytes(source)
    with src.open("rb") as a, out.open("wb") as b:
        assert rewrite_q4_1_as_q8_0(a, b)
    before_meta, before = _read(source)
    after_meta, after = _read(out.read_bytes())
    assert after_meta == before_meta
    assert [(n, k) for n, k, _ in after] == [(b"norm.weight", 0), (b"blk.0.attn_q.weight", Q8_0)]
    assert after[0][2] == before[0][2]
    expected = q4_1_values(before[1][2])
    assert np.abs(_q8_0_values(after[1][2]) - expected).max() <= np.abs(expected).max() / 254 + 1e-3


def test_the_copy_is_built_once_rebuilt_for_a_changed_source_and_never_left_half_written(tmp_path):
    src, cache = tmp_path / "model.gguf", tmp_path / "cache"
    src.write_bytes(_gguf([(b"w", [32], Q4_1, _q4_1(0.1, 0.0, [1] * 32))]))
    first = q8_0_copy(src, cache)
    assert first != src and first.parent == cache
    built = first.stat().st_mtime_ns
    assert q8_0_copy(src, cache) == first and first.stat().st_mtime_ns == built  # reused as is
    src.write_bytes(_gguf([(b"w", [64], Q4_1, _q4_1(0.1, 0.0, [2] * 32) * 2)]))
    assert q8_0_copy(src, cache) != first  # the shipped file changed: a new copy
    plain = tmp_path / "plain.gguf"
    plain.write_bytes(_gguf([(b"w", [8], 0, b"\0" * 32)]))
    assert q8_0_copy(plain, cache) == plain  # nothing to rewrite: the file itself
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\xff" * 40)
    listing = sorted(cache.iterdir())
    with pytest.raises(WeightsError, match="corrupt"):
        q8_0_copy(broken, cache)
    assert sorted(cache.iterdir()) == listing  # nothing partial left behind


def test_the_server_serves_the_copy_unless_asked_for_the_shipped_file(tmp_path, monkeypatch):
    from muspsy.backends.embedded import EmbeddedServer, find_gguf
    from muspsy.config import EmbeddedSettings

    monkeypatch.setenv("MUSPSY_CACHE_DIR", str(tmp_path))
    assert EmbeddedServer(EmbeddedSettings(weights="as_shipped")).weights_path() == find_gguf()
    served = EmbeddedServer(EmbeddedSettings()).weights_path()
    assert served.parent == tmp_path and "q8_0" in served.name
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("MUSPSY_CACHE_DIR", str(blocked))  # the cache cannot be written: the shipped file
    assert EmbeddedServer(EmbeddedSettings()).weights_path() == find_gguf()


def test_a_file_that_is_not_gguf_is_refused_in_one_line(tmp_path: Path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 20)
    with pytest.raises(WeightsError, match="not a GGUF"):
        q8_0_copy(bad, tmp_path / "cache")
