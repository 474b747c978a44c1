"""Binary encoding of one [`mmh_data.Configuration`][] (raw little-endian buffers, no pickle).

The layout follows the field table [`LABELS`][mmh_data.LABELS]. For today's table (energy,
forces, stress) a record is (all little-endian)::

    header   "<4sBBxxIiq5d9dHH" (140 bytes)
             magic b"MMHC", version, flags, n_atoms, file id (-1: none),
             frame index (-1: none), the scalar labels (energy), weight, one weight per
             label (energy/forces/stress), cell (9 values, row-major), len(head),
             len(config_type)
    numbers  uint8  [N]
    positions float64 [N, 3]
    the array labels, in table order, each when its flag is set:
      forces   float64 [N, 3]
      stress   float64 [3, 3]
    head, config_type  UTF-8

Flags: bit ``i`` says label ``i`` of the table is present; the three bits after them are
pbc x/y/z. A change of the table changes the layout, so it comes with a new
``RECORD_VERSION``.
"""

from __future__ import annotations

import struct

import numpy as np

from ._configuration import Configuration
from ._errors import MalformedFileError
from ._fields import LABELS

__all__ = ["RECORD_VERSION", "decode_configuration", "encode_configuration"]

MAGIC = b"MMHC"
RECORD_VERSION = 1
_SCALARS = tuple(f for f in LABELS if not f.per_atom and f.shape == ())
_ARRAYS = tuple(f for f in LABELS if f not in _SCALARS)
_HEADER = struct.Struct(f"<4sBBxxIiq{len(_SCALARS)}dd{len(LABELS)}d9dHH")
_BIT = {f.name: 1 << k for k, f in enumerate(LABELS)}
_PBC_SHIFT = len(LABELS)


def encode_configuration(config: Configuration, file_id: int = -1) -> bytes:
    """Encode a configuration as bytes.

    Args:
        config: The configuration.
        file_id: Index of ``config.source_file`` in the store's file table (-1: none).

    Returns:
        The record.
    """
    flags = 0
    for field in LABELS:
        if getattr(config, field.name) is not None:
            flags |= _BIT[field.name]
    for k in range(3):
        if config.pbc[k]:
            flags |= 1 << (_PBC_SHIFT + k)
    head = config.head.encode("utf-8")
    ctype = config.config_type.encode("utf-8")
    frame = -1 if config.source_index is None else int(config.source_index)
    scalars = [getattr(config, f.name) for f in _SCALARS]
    header = _HEADER.pack(
        MAGIC,
        RECORD_VERSION,
        flags,
        config.num_atoms,
        file_id,
        frame,
        *(0.0 if value is None else value for value in scalars),
        config.weight,
        *(getattr(config, f.weight_name) for f in LABELS),
        *config.cell.reshape(-1).tolist(),
        len(head),
        len(ctype),
    )
    parts = [header, config.atomic_numbers.astype(np.uint8).tobytes(), config.positions.tobytes()]
    for field in _ARRAYS:
        value = getattr(config, field.name)
        if value is not None:
            parts.append(value.tobytes())
    parts += [head, ctype]
    return b"".join(parts)


def decode_configuration(
    record: bytes | memoryview, files: list[str] | None = None, *, where: str | None = None
) -> Configuration:
    """Decode a record written by `encode_configuration`.

    Args:
        record: The bytes.
        files: The store's file table, to restore ``source_file``.
        where: Store path, for error messages.

    Returns:
        The [`Configuration`][mmh_data.Configuration] (arrays are copies, independent of
        ``record``).

    Raises:
        MalformedFileError: The record is not a valid mmh record.
    """
    buf = memoryview(record)
    if len(buf) < _HEADER.size:
        raise MalformedFileError("record too short", file=where)
    magic, version, flags, n, file_id, frame, *rest = _HEADER.unpack_from(buf, 0)
    if magic != MAGIC or version != RECORD_VERSION:
        raise MalformedFileError(
            f"not an mmh record (magic {magic!r}, version {version})", file=where
        )
    fields: dict[str, object] = {}
    for field, value in zip(_SCALARS, rest, strict=False):
        fields[field.name] = float(value) if flags & _BIT[field.name] else None
    rest = rest[len(_SCALARS) :]
    fields["weight"] = rest[0]
    for field, value in zip(LABELS, rest[1:], strict=False):
        fields[field.weight_name] = value
    rest = rest[1 + len(LABELS) :]
    try:
        cell = np.array(rest[:9], dtype=np.float64).reshape(3, 3)
        len_head, len_ctype = rest[9], rest[10]
        offset = _HEADER.size
        numbers = np.frombuffer(buf, dtype=np.uint8, count=n, offset=offset).astype(np.int64)
        offset += n
        positions = np.frombuffer(buf, dtype="<f8", count=3 * n, offset=offset).reshape(n, 3).copy()
        offset += 24 * n
        for field in _ARRAYS:
            value = None
            if flags & _BIT[field.name]:
                shape = field.value_shape(n)
                count = int(np.prod(shape, dtype=np.int64))
                value = np.frombuffer(buf, dtype="<f8", count=count, offset=offset)
                value = value.reshape(shape).copy()
                offset += 8 * count
            fields[field.name] = value
        head = bytes(buf[offset : offset + len_head]).decode("utf-8")
        offset += len_head
        ctype = bytes(buf[offset : offset + len_ctype]).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedFileError(f"corrupt record: {exc}", file=where) from exc
    pbc = np.array([bool(flags >> (_PBC_SHIFT + k) & 1) for k in range(3)])
    # Records are validated when written; decoding skips the checks.
    return Configuration._trusted(
        atomic_numbers=numbers,
        positions=positions,
        cell=cell,
        pbc=pbc,
        **fields,
        config_type=ctype,
        head=head,
        source_file=files[file_id] if (files is not None and 0 <= file_id < len(files)) else None,
        source_index=None if frame < 0 else frame,
    )
