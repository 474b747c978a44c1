"""Binary encoding of one [`mmh_data.Configuration`][] (raw little-endian buffers, no pickle).

Layout of a record (all little-endian)::

    header   "<4sBBxxIiq5d9dHH" (140 bytes)
             magic b"MMHC", version, flags, n_atoms, file id (-1: none),
             frame index (-1: none), energy, weight, energy/forces/stress weight,
             cell (9 values, row-major), len(head), len(config_type)
    numbers  uint8  [N]
    positions float64 [N, 3]
    forces   float64 [N, 3]   (when flags has FORCES)
    stress   float64 [3, 3]   (when flags has STRESS)
    head, config_type  UTF-8

Flags: bit 0 energy present, bit 1 forces, bit 2 stress, bits 3-5 pbc x/y/z.
"""

from __future__ import annotations

import struct

import numpy as np

from ._configuration import Configuration
from ._errors import MalformedFileError

__all__ = ["RECORD_VERSION", "decode_configuration", "encode_configuration"]

MAGIC = b"MMHC"
RECORD_VERSION = 1
_HEADER = struct.Struct("<4sBBxxIiq5d9dHH")
_ENERGY, _FORCES, _STRESS = 1, 2, 4
_PBC_SHIFT = 3


def encode_configuration(config: Configuration, file_id: int = -1) -> bytes:
    """Encode a configuration as bytes.

    Args:
        config: The configuration.
        file_id: Index of ``config.source_file`` in the store's file table (-1: none).

    Returns:
        The record.
    """
    flags = 0
    if config.energy is not None:
        flags |= _ENERGY
    if config.forces is not None:
        flags |= _FORCES
    if config.stress is not None:
        flags |= _STRESS
    for k in range(3):
        if config.pbc[k]:
            flags |= 1 << (_PBC_SHIFT + k)
    head = config.head.encode("utf-8")
    ctype = config.config_type.encode("utf-8")
    frame = -1 if config.source_index is None else int(config.source_index)
    header = _HEADER.pack(
        MAGIC,
        RECORD_VERSION,
        flags,
        config.num_atoms,
        file_id,
        frame,
        0.0 if config.energy is None else config.energy,
        config.weight,
        config.energy_weight,
        config.forces_weight,
        config.stress_weight,
        *config.cell.reshape(-1).tolist(),
        len(head),
        len(ctype),
    )
    parts = [header, config.atomic_numbers.astype(np.uint8).tobytes(), config.positions.tobytes()]
    if config.forces is not None:
        parts.append(config.forces.tobytes())
    if config.stress is not None:
        parts.append(config.stress.tobytes())
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
    (magic, version, flags, n, file_id, frame, energy, weight, ew, fw, sw, *rest) = (
        _HEADER.unpack_from(buf, 0)
    )
    if magic != MAGIC or version != RECORD_VERSION:
        raise MalformedFileError(
            f"not an mmh record (magic {magic!r}, version {version})", file=where
        )
    try:
        cell = np.array(rest[:9], dtype=np.float64).reshape(3, 3)
        len_head, len_ctype = rest[9], rest[10]
        offset = _HEADER.size
        numbers = np.frombuffer(buf, dtype=np.uint8, count=n, offset=offset).astype(np.int64)
        offset += n
        positions = np.frombuffer(buf, dtype="<f8", count=3 * n, offset=offset).reshape(n, 3).copy()
        offset += 24 * n
        forces = stress = None
        if flags & _FORCES:
            forces = (
                np.frombuffer(buf, dtype="<f8", count=3 * n, offset=offset).reshape(n, 3).copy()
            )
            offset += 24 * n
        if flags & _STRESS:
            stress = np.frombuffer(buf, dtype="<f8", count=9, offset=offset).reshape(3, 3).copy()
            offset += 72
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
        energy=float(energy) if flags & _ENERGY else None,
        forces=forces,
        stress=stress,
        weight=weight,
        energy_weight=ew,
        forces_weight=fw,
        stress_weight=sw,
        config_type=ctype,
        head=head,
        source_file=files[file_id] if (files is not None and 0 <= file_id < len(files)) else None,
        source_index=None if frame < 0 else frame,
    )
