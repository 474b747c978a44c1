"""External benchmarks on small surrogate data sets built here.

The "reference" values are EMT energies computed directly in the tests; the "models" are
EMT itself (zero error), EMT scaled by 1.1 (every energy difference off by 10 % of its
reference) and EMT plus per-element constants (zero error on every balanced difference).
"""

import csv
import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import add_adsorbate, fcc100, fcc111, molecule
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from ase.io import read, write
from ase.units import Bohr, kcal, kJ, mol
from mmh_bench.external import (
    WTMAD2_MEAN_KCAL_MOL,
    BenchmarkDataError,
    gmtkn55,
    ice_polymorphs,
    load_gmtkn55,
    load_x23,
    oc20,
    plf547,
    s24,
    s30l,
    wiggle150,
    x23,
)
from mmh_bench.external.gmtkn55 import read_res

KCAL = kcal / mol
KJ = kJ / mol
SHIFTS = {"H": -0.7, "C": 3.1, "N": -2.2, "O": 1.3, "Cu": 0.4, "Pt": -0.9}


class Model(EMT):
    """EMT times ``scale`` plus a constant per element."""

    def __init__(self, scale=1.0, shifts=None):
        super().__init__()
        self.scale = scale
        self.shifts = shifts or {}

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        shift = sum(self.shifts.get(s, 0.0) for s in self.atoms.get_chemical_symbols())
        self.results["energy"] = self.scale * self.results["energy"] + shift


def emt(atoms):
    atoms = atoms.copy()
    atoms.calc = EMT()
    return atoms.get_potential_energy()


def tagged(atoms, **info):
    atoms = atoms.copy()
    atoms.info.pop("adsorbate_info", None)
    atoms.info.update(info)
    return atoms


def roundtrip(path, frames, *keys):
    """Write frames to extxyz and read them back (references use the stored geometries)."""
    write(path, frames, format="extxyz")
    return {tuple(a.info[k] for k in keys): a for a in read(path, index=":")}


def write_table(path, header, rows):
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def cluster(unit, offsets, cell=None):
    out = Atoms(cell=cell, pbc=cell is not None)
    for offset in offsets:
        m = unit.copy()
        m.translate(offset)
        out += m
    if cell is not None:
        out.set_cell(cell)
        out.pbc = True
    return out


def assert_scaled_mae(result, key="mae_kcal_mol"):
    ref = np.asarray(result.data["reference"])
    assert result.metrics[key] == pytest.approx(0.1 * np.abs(ref).mean(), rel=1e-9)


# --------------------------------------------------------------------------- X23


@pytest.fixture
def x23_dir(tmp_path):
    frames, z = [], {}
    for name, gas, offsets, a in (
        ("n2", molecule("N2"), [(0, 0, 0), (2.2, 2.2, 2.2)], 4.4),
        ("co", molecule("CO"), [(0, 0, 0), (2.5, 2.5, 0), (2.5, 0, 2.5), (0, 2.5, 2.5)], 5.0),
    ):
        z[name] = len(offsets)
        frames += [
            tagged(cluster(gas, offsets, cell=[a, a, a]), system=name, role="crystal"),
            tagged(gas, system=name, role="molecule"),
        ]
    f = roundtrip(tmp_path / "structures.extxyz", frames, "system", "role")
    rows = [
        (name, (emt(f[name, "crystal"]) / n - emt(f[name, "molecule"])) / KJ)
        for name, n in z.items()
    ]
    write_table(tmp_path / "reference.csv", ["system", "lattice_energy_kj_mol"], rows)
    return tmp_path


def test_x23_lattice_energies(x23_dir):
    exact = x23(EMT(), x23_dir)
    assert exact.name == "x23" and exact.domain == "molecular_crystals"
    assert exact.metrics["mae_kcal_mol"] < 1e-9
    assert exact.data["molecules_per_cell"] == {"n2": 2, "co": 4}
    scaled = x23(Model(1.1), x23_dir)
    assert_scaled_mae(scaled)
    assert scaled.metrics["mae_kj_mol"] == pytest.approx(scaled.metrics["mae_kcal_mol"] * 4.184)
    assert x23(Model(shifts=SHIFTS), x23_dir).metrics["mae_kcal_mol"] < 1e-9
    assert all(r < 0 for r in exact.data["reference"])


def test_x23_format_errors(x23_dir):
    write_table(x23_dir / "reference.csv", ["system", "lattice_energy_kj_mol"], [("n2", 9.0)])
    with pytest.raises(BenchmarkDataError, match="negative for bound crystals"):
        load_x23(x23_dir)
    write_table(x23_dir / "reference.csv", ["system", "lattice_energy_kcal"], [("n2", -9.0)])
    with pytest.raises(BenchmarkDataError, match="lattice_energy_kcal_mol"):
        load_x23(x23_dir)
    write_table(x23_dir / "reference.csv", ["system", "lattice_energy_ev"], [("xx", -0.1)])
    with pytest.raises(
        BenchmarkDataError, match=r"no frame with \{'system': 'xx', 'role': 'crystal'"
    ):
        load_x23(x23_dir)
    (x23_dir / "structures.extxyz").unlink()
    with pytest.raises(BenchmarkDataError, match=r"missing file .*structures\.extxyz"):
        load_x23(x23_dir)


# --------------------------------------------------------------------------- ice


def water_cell(n, a):
    grid = [(0, 0, 0), (a / 2, a / 2, 0), (a / 2, 0, a / 2), (0, a / 2, a / 2)][:n]
    return cluster(molecule("H2O"), grid, cell=[a, a, a])


@pytest.fixture
def ice_dir(tmp_path):
    water = molecule("H2O")
    cells = {"Ih": water_cell(2, 5.2), "II": water_cell(3, 5.6), "III": water_cell(4, 6.0)}
    frames = [tagged(c, system=k, role="crystal") for k, c in cells.items()]
    frames.append(tagged(water, system="water", role="molecule"))
    f = roundtrip(tmp_path / "structures.extxyz", frames, "system", "role")
    e_water = emt(f["water", "molecule"])
    lattice = {k: (emt(f[k, "crystal"]) / (len(c) // 3) - e_water) * 1e3 for k, c in cells.items()}
    write_table(tmp_path / "reference.csv", ["system", "lattice_energy_mev"], lattice.items())
    return tmp_path, lattice


def test_ice_polymorphs_relative_and_absolute(ice_dir):
    root, lattice = ice_dir
    exact = ice_polymorphs(EMT(), root)
    assert exact.data["systems"] == ["II", "III"]
    np.testing.assert_allclose(
        np.asarray(exact.data["reference"]) * KCAL * 1e3,
        [lattice["II"] - lattice["Ih"], lattice["III"] - lattice["Ih"]],
    )
    assert exact.metrics["mae_kcal_mol"] < 1e-9
    assert exact.metrics["absolute_mae_kcal_mol"] < 1e-9
    scaled = ice_polymorphs(Model(1.1), root)
    assert_scaled_mae(scaled)
    assert scaled.metrics["mae_mev"] == pytest.approx(scaled.metrics["mae_kcal_mol"] * KCAL * 1e3)
    absolute = np.abs(scaled.data["absolute_reference"]).mean()
    assert scaled.metrics["absolute_mae_kcal_mol"] == pytest.approx(0.1 * absolute)
    assert ice_polymorphs(Model(shifts=SHIFTS), root).metrics["mae_kcal_mol"] < 1e-9
    # the same references given as relative energies, without the molecule
    relative = [(k, v - lattice["Ih"]) for k, v in lattice.items()]
    write_table(root / "reference.csv", ["system", "relative_energy_mev"], relative)
    again = ice_polymorphs(Model(1.1), root)
    assert again.metrics["mae_kcal_mol"] == pytest.approx(scaled.metrics["mae_kcal_mol"])
    assert "absolute_mae_kcal_mol" not in again.metrics


# --------------------------------------------------------------------------- S24


@pytest.fixture
def s24_dir(tmp_path):
    frames, categories = [], {}
    for name, metal, adsorbate, site, category in (
        ("co_cu111", "Cu", "CO", "ontop", "metallic"),
        ("o2_pt111", "Pt", "O2", "fcc", "metallic"),
        ("h2o_cu111", "Cu", "H2O", "hcp", "other"),
    ):
        slab = fcc111(metal, (2, 2, 2), vacuum=6.0)
        gas = molecule(adsorbate)
        complex_ = slab.copy()
        add_adsorbate(complex_, gas, 2.0, site)
        categories[name] = category
        frames += [
            tagged(complex_, system=name, role="complex"),
            tagged(slab, system=name, role="surface"),
            tagged(gas, system=name, role="molecule"),
        ]
    f = roundtrip(tmp_path / "structures.extxyz", frames, "system", "role")
    rows = [
        (n, emt(f[n, "complex"]) - emt(f[n, "surface"]) - emt(f[n, "molecule"]), c)
        for n, c in categories.items()
    ]
    write_table(tmp_path / "reference.csv", ["system", "adsorption_energy_ev", "category"], rows)
    return tmp_path


def test_s24_adsorption_energies(s24_dir):
    exact = s24(EMT(), s24_dir)
    assert exact.domain == "surfaces" and exact.metrics["mae_kcal_mol"] < 1e-9
    scaled = s24(Model(1.1), s24_dir)
    assert_scaled_mae(scaled)
    assert scaled.metrics["mae_ev"] == pytest.approx(scaled.metrics["mae_kcal_mol"] * KCAL)
    assert set(scaled.data["group_mae"]) == {"metallic", "other"}
    assert scaled.data["group_mae"]["metallic"]["n"] == 2
    assert s24(Model(shifts=SHIFTS), s24_dir).metrics["mae_kcal_mol"] < 1e-9


def test_s24_rejects_a_complex_that_is_not_surface_plus_molecule(s24_dir):
    frames = [
        tagged(fcc111("Cu", (2, 2, 2), vacuum=6.0), system="bad", role=r)
        for r in ("complex", "surface")
    ]
    frames.append(tagged(molecule("CO"), system="bad", role="molecule"))
    write(s24_dir / "structures.extxyz", frames, format="extxyz")
    write_table(s24_dir / "reference.csv", ["system", "adsorption_energy_ev"], [("bad", -1.0)])
    with pytest.raises(BenchmarkDataError, match="is not its surface plus its molecule"):
        s24(EMT(), s24_dir)


# --------------------------------------------------------------------------- OC20


GAS = {"H2": molecule("H2"), "H2O": molecule("H2O"), "CO": molecule("CO")}
OC20_REFS = {"H": {"H2": 0.5}, "O": {"H2O": 1, "H2": -1}, "C": {"CO": 1, "H2O": -1, "H2": 1}}


def gas_mu(gas):
    e = {k: emt(v) for k, v in gas.items()}
    return {el: sum(c * e[m] for m, c in spec.items()) for el, spec in OC20_REFS.items()}


@pytest.fixture
def oc20_dir(tmp_path):
    frames = [tagged(v, system=k, role="gas") for k, v in GAS.items()]
    counts = {}
    for name, adsorbate, site in (
        ("o_hollow", Atoms("O"), "hollow"),
        ("h_bridge", Atoms("H"), "bridge"),
        ("oh_ontop", Atoms("OH", positions=[(0, 0, 0), (0, 0, 0.97)]), "ontop"),
        ("co_ontop", Atoms("CO", positions=[(0, 0, 0), (0, 0, 1.15)]), "ontop"),
    ):
        slab = fcc100("Cu", (2, 2, 2), vacuum=6.0)
        complex_ = slab.copy()
        add_adsorbate(complex_, adsorbate, 1.6, site)
        n = {
            s: adsorbate.get_chemical_symbols().count(s)
            for s in set(adsorbate.get_chemical_symbols())
        }
        counts[name] = n
        frames += [
            tagged(complex_, system=name, role="complex"),
            tagged(slab, system=name, role="slab"),
        ]
    f = roundtrip(tmp_path / "structures.extxyz", frames, "system", "role")
    mu = gas_mu({k: f[k, "gas"] for k in GAS})
    rows = [
        (m, emt(f[m, "complex"]) - emt(f[m, "slab"]) - sum(k * mu[s] for s, k in n.items()))
        for m, n in counts.items()
    ]
    write_table(tmp_path / "reference.csv", ["system", "adsorption_energy_ev"], rows)
    (tmp_path / "gas_references.json").write_text(json.dumps(OC20_REFS))
    return tmp_path, counts


def test_oc20_with_gas_molecule_references(oc20_dir):
    root, _ = oc20_dir
    exact = oc20(EMT(), root)
    assert exact.metrics["mae_ev"] < 1e-9
    assert exact.metrics["pearson_r"] == pytest.approx(1.0)
    assert exact.data["adsorbate"]["oh_ontop"] == "OH"
    scaled = oc20(Model(1.1), root)
    assert_scaled_mae(scaled, "mae_ev")
    assert scaled.metrics["mae_kcal_mol"] == pytest.approx(scaled.metrics["mae_ev"] / KCAL)
    assert scaled.metrics["pearson_r"] == pytest.approx(1.0)
    assert oc20(Model(shifts=SHIFTS), root).metrics["mae_ev"] < 1e-9


def test_oc20_with_fixed_element_energies(oc20_dir):
    root, counts = oc20_dir
    stored = read(root / "structures.extxyz", index=":")
    gas = {a.info["system"]: a for a in stored if a.info["role"] == "gas"}
    (root / "gas_references.json").write_text(json.dumps(gas_mu(gas)))
    assert oc20(EMT(), root).metrics["mae_ev"] < 1e-9
    # fixed references do not follow the model's per-element constants
    shifted = oc20(Model(shifts=SHIFTS), root)
    errors = {name: sum(k * SHIFTS[s] for s, k in n.items()) for name, n in counts.items()}
    got = dict(
        zip(
            shifted.data["systems"],
            np.subtract(shifted.data["predicted"], shifted.data["reference"]),
            strict=True,
        )
    )
    for name, err in errors.items():
        assert got[name] == pytest.approx(err)


def test_oc20_reference_errors(oc20_dir):
    root, _ = oc20_dir
    (root / "gas_references.json").write_text(json.dumps({**OC20_REFS, "O": {"H2O": 1}}))
    with pytest.raises(BenchmarkDataError, match="adds up to"):
        oc20(EMT(), root)
    (root / "gas_references.json").write_text(json.dumps({"O": {"H2O": 1, "H2": -1}}))
    with pytest.raises(BenchmarkDataError, match=r"no reference for \['H'\]"):
        oc20(EMT(), root)


# --------------------------------------------------------------------------- Wiggle150


@pytest.fixture
def wiggle_dir(tmp_path):
    frames, pairs = [], []
    for base in ("CH3CH2OH", "CH4"):
        ground = molecule(base)
        frames.append(tagged(ground, name=f"{base}_00"))
        for i in range(1, 4):
            conf = ground.copy()
            conf.rattle(0.08, seed=i)
            frames.append(tagged(conf, name=f"{base}_{i:02d}"))
            pairs.append((f"{base}_{i:02d}", f"{base}_00"))
    f = roundtrip(tmp_path / "structures.extxyz", frames, "name")
    rows = [(n, g, (emt(f[(n,)]) - emt(f[(g,)])) / KCAL) for n, g in pairs]
    write_table(
        tmp_path / "reference.csv", ["name", "relative_to", "relative_energy_kcal_mol"], rows
    )
    return tmp_path


def test_wiggle150_relative_energies(wiggle_dir):
    assert wiggle150(EMT(), wiggle_dir).metrics["mae_kcal_mol"] < 1e-9
    scaled = wiggle150(Model(1.1), wiggle_dir)
    assert_scaled_mae(scaled)
    assert set(scaled.data["group_mae"]) == {"CH3CH2OH_00", "CH4_00"}
    assert wiggle150(Model(shifts=SHIFTS), wiggle_dir).metrics["mae_kcal_mol"] < 1e-9
    write_table(
        wiggle_dir / "reference.csv",
        ["name", "relative_to", "relative_energy_kcal_mol"],
        [("CH4_01", "CH3CH2OH_00", 1.0)],
    )
    with pytest.raises(BenchmarkDataError, match="not conformers of one molecule"):
        wiggle150(EMT(), wiggle_dir)


# --------------------------------------------------------------------------- PLF547, S30L


@pytest.fixture
def interaction_dir(tmp_path):
    frames, rows = [], []
    systems = [
        ("w_m_3.2", molecule("H2O"), molecule("CH4"), 3.2, 0),
        ("w_m_3.8", molecule("H2O"), molecule("CH4"), 3.8, 0),
        ("w_nh3", molecule("H2O"), molecule("NH3"), 3.0, 0),
        ("oh_w", Atoms("OH", positions=[(0, 0, 0), (0, 0, 0.97)]), molecule("H2O"), 2.9, -1),
    ]
    for name, a, b, distance, charge in systems:
        b = b.copy()
        b.translate((distance, 0, 0))
        frames += [
            tagged(a + b, system=name, role="complex", charge=charge),
            tagged(a, system=name, role="A", charge=charge),
            tagged(b, system=name, role="B"),
        ]
    f = roundtrip(tmp_path / "structures.extxyz", frames, "system", "role")
    frames = list(f.values())
    rows = [
        (n, (emt(f[n, "complex"]) - emt(f[n, "A"]) - emt(f[n, "B"])) / KCAL) for n, *_ in systems
    ]
    return tmp_path, frames, rows


def write_interaction(root, frames, rows, roles):
    renamed = [tagged(f, role=roles.get(f.info["role"], f.info["role"])) for f in frames]
    write(root / "structures.extxyz", renamed, format="extxyz")
    write_table(root / "reference.csv", ["system", "interaction_energy_kcal_mol"], rows)


def test_plf547_scores_neutral_singlets_only(interaction_dir):
    root, frames, rows = interaction_dir
    write_interaction(root, frames, rows, {"A": "protein", "B": "ligand"})
    result = plf547(Model(1.1), root)
    assert result.data["systems"] == ["w_m_3.2", "w_m_3.8", "w_nh3"]
    assert result.data["excluded"] == ["oh_w"]
    assert_scaled_mae(result)
    everything = plf547(Model(1.1), root, neutral_singlet_only=False)
    assert len(everything.data["systems"]) == 4
    assert plf547(Model(shifts=SHIFTS), root).metrics["mae_kcal_mol"] < 1e-9


def test_s30l_keeps_charged_complexes(interaction_dir):
    root, frames, rows = interaction_dir
    write_interaction(root, frames, rows, {"A": "host", "B": "guest"})
    result = s30l(Model(1.1), root)
    assert len(result.data["systems"]) == 4 and "excluded" not in result.data
    assert_scaled_mae(result)
    assert s30l(EMT(), root).metrics["mae_kcal_mol"] < 1e-9
    write_interaction(root, frames, rows, {"A": "protein", "B": "ligand"})
    with pytest.raises(BenchmarkDataError, match="'role': 'host'"):
        s30l(EMT(), root)


# --------------------------------------------------------------------------- GMTKN55


def gmtkn_species():
    """{(subset directory, species): (atoms, charge, unpaired electrons)}."""
    oh = Atoms("OH", positions=[(0, 0, 0), (0, 0, 0.97)])
    ch3 = molecule("CH3")
    dimer = molecule("H2O") + molecule("H2O")
    dimer.positions[3:] += (2.9, 0.2, 0.1)
    return {
        ("W4-11", "h2"): (molecule("H2"), 0, 0),
        ("W4-11", "h"): (Atoms("H"), 0, 1),
        ("W4-11", "h2o"): (molecule("H2O"), 0, 0),
        ("W4-11", "o"): (Atoms("O"), 0, 2),
        ("W4-11", "co2"): (molecule("CO2"), 0, 0),
        ("W4-11", "co"): (molecule("CO"), 0, 0),
        ("W4-11", "o2"): (molecule("O2"), 0, 2),
        ("G21EA", "oh"): (oh, 0, 1),
        ("G21EA", "oh-"): (oh.copy(), -1, 0),
        ("S22", "dimer"): (dimer, 0, 0),
        ("S22", "mono"): (molecule("H2O"), 0, 0),
        ("RSE43", "E1"): (molecule("CH4"), 0, 0),
        ("RSE43", "P1"): (ch3, 0, 1),
        ("RSE43", "E2"): (molecule("C2H6"), 0, 0),
        ("RSE43", "P2"): (molecule("C2H6")[:-1], 0, 1),
        ("BH76", "ts1"): (molecule("CH3OH"), 0, 0),
        ("BH76", "r1"): (molecule("CH3OH"), 0, 0),
        ("BH76", "r2"): (molecule("H2CO"), 0, 0),
        ("BH76", "h2"): (molecule("H2"), 0, 0),
    }


def gmtkn_reactions():
    """(subset, species, coefficients) of the surrogate: res-file style, before references."""
    return [
        ("W4-11", ["W4-11/h2", "W4-11/h"], [-1, 2]),
        ("W4-11", ["W4-11/co", "W4-11/o", "W4-11/co2"], [-1, -1, 1]),
        ("W4-11", ["W4-11/co2", "W4-11/h2", "W4-11/co", "W4-11/h2o"], [-1, -1, 1, 1]),
        ("G21EA", ["G21EA/oh-", "G21EA/oh"], [-1, 1]),
        ("S22", ["S22/dimer", "S22/mono"], [-1, 2]),
        ("RSE43", ["RSE43/E2", "RSE43/P2", "RSE43/E1", "RSE43/P1"], [-1, 1, 1, -1]),
        ("BH76", ["BH76/r1", "BH76/ts1"], [-1, 1]),
        ("BH76RC", ["BH76/r1", "BH76/r2", "BH76/h2"], [-1, 1, 1]),
    ]


def reference_of(species, coefficients, structures):
    return sum(c * emt(structures[s]) for s, c in zip(species, coefficients, strict=True)) / KCAL


@pytest.fixture
def gmtkn_dirs(tmp_path):
    """The same surrogate in mmh's layout and in the native layout."""
    table = gmtkn_species()
    mmh = tmp_path / "mmh"
    mmh.mkdir()
    frames = [
        tagged(atoms, name=f"{d}/{s}", charge=q, multiplicity=u + 1)
        for (d, s), (atoms, q, u) in table.items()
    ]
    stored = roundtrip(mmh / "structures.extxyz", frames, "name")
    structures = {k[0]: a for k, a in stored.items()}
    reactions = []
    for i, (subset, species, coefficients) in enumerate(gmtkn_reactions()):
        ref = reference_of(species, coefficients, structures)
        ref += 0.5 * (-1) ** i  # the surrogate's "reference" is not EMT exactly
        reactions.append(
            {
                "subset": subset,
                "index": i + 1,
                "species": species,
                "coefficients": coefficients,
                "reference_kcal_mol": round(ref, 6),
            }
        )
    (mmh / "reactions.json").write_text(json.dumps(reactions))

    native = tmp_path / "native"
    for (d, s), (_, charge, unpaired) in table.items():
        atoms = structures[f"{d}/{s}"]
        folder = native / d / s
        folder.mkdir(parents=True)
        lines = ["$coord"] + [
            f"  {x / Bohr: .10f} {y / Bohr: .10f} {z / Bohr: .10f}  {sym.lower()}"
            for (x, y, z), sym in zip(atoms.positions, atoms.get_chemical_symbols(), strict=True)
        ]
        (folder / "coord").write_text("\n".join([*lines, "$end", ""]))
        if charge:
            (folder / ".CHRG").write_text(f"{charge}\n")
        if unpaired:
            (folder / ".UHF").write_text(f"{unpaired}\n")
    header = 'if [ "$TMER" == "" ]\nthen\n  tmer=tmer2++\nelse\n  tmer=$TMER\nfi\nf=$1\nw=$2\n\n'
    by = {r["subset"]: [] for r in reactions}
    for r in reactions:
        by[r["subset"]].append(r)
    res = {
        "W4-11": [
            f"$tmer h2/$f h/$f x -1 2 $w {by['W4-11'][0]['reference_kcal_mol']}",
            f"$tmer co/$f o/$f co2/$f x -1 -1 1 $w {by['W4-11'][1]['reference_kcal_mol']}",
            f"tmer2++ co2/$f h2/$f co/$f h2o/$f x -1 -1 1 1 $w "
            f"{by['W4-11'][2]['reference_kcal_mol']}  # a comment",
        ],
        "G21EA": [f"$tmer oh-/$f oh/$f x -1 1 $w {by['G21EA'][0]['reference_kcal_mol']}"],
        "S22": [f"$tmer dimer/$f mono/$f x -1 2 $w {by['S22'][0]['reference_kcal_mol']}"],
        "RSE43": [
            "d0CH4=$( $tmer   {E,P}1/$f    x -1  1    $w $d0CH4 | awk '{ print $6; }' )",
            f"$tmer {{E,P}}2/$f x -1 1 $w $d0CH4 {by['RSE43'][0]['reference_kcal_mol']}",
        ],
        "BH76": [f"$tmer r1/$f ts1/$f x -1 1 $w {by['BH76'][0]['reference_kcal_mol']}"],
    }
    for subset, lines in res.items():
        (native / subset / ".res").write_text(header + "\n".join(lines) + "\n")
    rc = by["BH76RC"][0]["reference_kcal_mol"]
    (native / "BH76" / ".resRC").write_text(header + f"$tmer r1/$f r2/$f h2/$f x -1 1 1 $w {rc}\n")
    return mmh, native, reactions, structures


def test_read_res_expands_braces_and_subtracts_variables(gmtkn_dirs):
    _, native, _, _ = gmtkn_dirs
    (rse,) = read_res(native / "RSE43" / ".res")
    assert rse["species"] == ["E2", "P2", "E1", "P1"]
    assert rse["coefficients"] == [-1, 1, 1, -1]
    w4 = read_res(native / "W4-11" / ".res")
    assert [r["index"] for r in w4] == [1, 2, 3]
    assert w4[2]["species"] == ["co2", "h2", "co", "h2o"]
    assert w4[2]["coefficients"] == [-1, -1, 1, 1]


def test_native_and_mmh_layouts_agree(gmtkn_dirs):
    mmh, native, _, _ = gmtkn_dirs
    a, b = load_gmtkn55(mmh), load_gmtkn55(native)
    key = lambda d: (d.group, round(d.reference_ev, 9))  # noqa: E731
    assert sorted(map(key, a)) == sorted(map(key, b))
    by_a = {key(d): d for d in a}
    for d in b:
        other = by_a[key(d)]
        assert sorted((t.coefficient, t.key) for t in d.terms) == sorted(
            (t.coefficient, t.key) for t in other.terms
        )
        for t in d.terms:
            match = next(o for o in other.terms if o.key == t.key)
            np.testing.assert_allclose(t.atoms.positions, match.atoms.positions, atol=1e-8)
            assert t.atoms.info["charge"] == match.atoms.info["charge"]
            assert t.atoms.info["multiplicity"] == match.atoms.info["multiplicity"]
    native_result = gmtkn55(Model(1.1), native, neutral_singlet_only=False)
    mmh_result = gmtkn55(Model(1.1), mmh, neutral_singlet_only=False)
    assert native_result.metrics["overall_mae_kcal_mol"] == pytest.approx(
        mmh_result.metrics["overall_mae_kcal_mol"]
    )


def test_gmtkn55_wtmad2_by_hand(gmtkn_dirs):
    mmh, _, reactions, structures = gmtkn_dirs
    result = gmtkn55(Model(1.1), mmh)
    # Neutral singlets only: the radical, atom and anion reactions are left out.
    assert result.data["systems"] == ["W4-11/3", "S22/5", "BH76/7", "BH76RC/8"]
    assert result.data["category"] == ["basic_small", "inter_nc", "barrier_heights", "basic_small"]
    assert set(result.data["excluded"]) == {"W4-11/1", "W4-11/2", "G21EA/4", "RSE43/6"}
    refs = {f"{r['subset']}/{r['index']}": r["reference_kcal_mol"] for r in reactions}
    predicted = {
        f"{r['subset']}/{r['index']}": 1.1
        * reference_of(r["species"], r["coefficients"], structures)
        for r in reactions
    }
    mean_abs = {}
    for r in reactions:  # weights from every reaction of the subset
        mean_abs.setdefault(r["subset"], []).append(abs(r["reference_kcal_mol"]))
    weight = {s: WTMAD2_MEAN_KCAL_MOL / np.mean(v) for s, v in mean_abs.items()}
    groups = {
        "basic_small": ["W4-11/3", "BH76RC/8"],
        "barrier_heights": ["BH76/7"],
        "inter_nc": ["S22/5"],
    }
    evaluated = [n for names in groups.values() for n in names]
    for group, names in groups.items():
        err = [weight[n.split("/")[0]] * abs(predicted[n] - refs[n]) for n in names]
        assert result.metrics[f"{group}_mae_kcal_mol"] == pytest.approx(np.mean(err))
        plain = [abs(predicted[n] - refs[n]) for n in names]
        assert result.metrics[f"{group}_unweighted_mae_kcal_mol"] == pytest.approx(np.mean(plain))
    overall = [weight[n.split("/")[0]] * abs(predicted[n] - refs[n]) for n in evaluated]
    assert result.metrics["overall_mae_kcal_mol"] == pytest.approx(np.mean(overall))
    assert np.isnan(result.metrics["large_systems_mae_kcal_mol"])
    assert np.isnan(result.metrics["intra_nc_mae_kcal_mol"])
    assert result.metrics["mae_kcal_mol"] == pytest.approx(
        np.mean([abs(predicted[n] - refs[n]) for n in evaluated])
    )
    assert result.data["subsets"]["W4-11"]["n"] == 1
    subset = gmtkn55(Model(1.1), mmh, subsets=["BH76"], neutral_singlet_only=False)
    assert subset.data["systems"] == ["BH76/7"]


def test_gmtkn55_data_errors(gmtkn_dirs):
    mmh, _, reactions, _ = gmtkn_dirs
    broken = [dict(reactions[0], coefficients=[-1, 1])]
    (mmh / "reactions.json").write_text(json.dumps(broken))
    with pytest.raises(BenchmarkDataError, match=r"W4-11/1\) is not balanced"):
        load_gmtkn55(mmh)
    (mmh / "reactions.json").write_text(json.dumps([dict(reactions[0], subset="NEW")]))
    with pytest.raises(BenchmarkDataError, match="'NEW' has no category"):
        load_gmtkn55(mmh)
    (mmh / "reactions.json").write_text(
        json.dumps([dict(reactions[0], subset="NEW", group="inter_nc")])
    )
    assert load_gmtkn55(mmh)[0].meta["category"] == "inter_nc"
    (mmh / "reactions.json").write_text(json.dumps([{"subset": "S22", "species": []}]))
    with pytest.raises(BenchmarkDataError, match="no key"):
        load_gmtkn55(mmh)
    with pytest.raises(BenchmarkDataError, match="does not exist"):
        load_gmtkn55(mmh / "absent")


# --------------------------------------------------------------------------- shared format


def test_multiplicity_and_duplicate_frames_are_checked(tmp_path):
    frames = [tagged(molecule("H2O"), name="a", multiplicity=2)]
    write(tmp_path / "structures.extxyz", frames, format="extxyz")
    write_table(
        tmp_path / "reference.csv", ["name", "relative_to", "relative_energy_ev"], [("a", "a", 0)]
    )
    with pytest.raises(BenchmarkDataError, match="multiplicity 2 does not fit 10 electrons"):
        wiggle150(EMT(), tmp_path)
    write(tmp_path / "structures.extxyz", [tagged(molecule("H2O"), name="a")] * 2, format="extxyz")
    with pytest.raises(BenchmarkDataError, match="repeats"):
        wiggle150(EMT(), tmp_path)
    write(tmp_path / "structures.extxyz", [tagged(molecule("H2O"), name="a")], format="extxyz")
    write_table(
        tmp_path / "reference.csv", ["name", "relative_to", "relative_energy_ev"], [("a", "a", "x")]
    )
    with pytest.raises(
        BenchmarkDataError, match="row 2: column 'relative_energy_ev' is not a number"
    ):
        wiggle150(EMT(), tmp_path)


def test_results_round_trip_through_json(wiggle_dir, tmp_path):
    from mmh_bench._result import BenchmarkResult

    result = wiggle150(Model(1.1), wiggle_dir)
    again = BenchmarkResult.from_dict(json.loads(result.save(tmp_path / "r.json").read_text()))
    assert again.metrics == pytest.approx(result.metrics)
    assert again.data["systems"] == result.data["systems"]
