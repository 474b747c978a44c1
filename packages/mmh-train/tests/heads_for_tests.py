"""A tiny pre-trained-looking model for fine-tuning tests."""

from __future__ import annotations

from mmh_data import datasets
from mmh_heads import MultiHeadMACE, testing
from train_kit import TINY_MODEL

#: Elements of all bundled datasets.
ALL_ELEMENTS = (1, 3, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 22, 28, 29, 30, 31, 32, 33, 46, 47, 78)


def tiny_model(elements=ALL_ELEMENTS, head="bulk", seed=0, extra_heads=()) -> MultiHeadMACE:
    """`mmh_heads.testing.tiny_model` with the sizes of `train_kit.TINY_MODEL` (those of the
    training configurations), no ZBL and the bundled bulk isolated-atom E0s (float64).

    ``extra_heads`` adds heads after ``head``, each with its own random readout, E0s
    offset by 0.1 eV per head and its own scale and shift (a small multi-head model).
    """
    iso = datasets.isolated_atom_energies("bulk")
    backbone = {k: v for k, v in TINY_MODEL.items() if k != "readout_hidden"}
    backbone["radial_mlp"] = tuple(backbone["radial_mlp"])
    heads = (head, *extra_heads)
    return testing.tiny_model(
        heads,
        seed=seed,
        zbl=False,
        elements=elements,
        readout_hidden=TINY_MODEL["readout_hidden"],
        e0s={h: {z: iso.get(z, 0.0) + 0.1 * k for z in elements} for k, h in enumerate(heads)},
        scale={h: 0.7 + 0.1 * k for k, h in enumerate(heads)},
        shift={h: -4.8 + 0.2 * k for k, h in enumerate(heads)},
        avg_num_neighbors=20.0,
        **backbone,
    )
