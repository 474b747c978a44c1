"""Molecule lists of ``mol`` and ``mol-base`` (SMILES) and the G2 selection."""

from __future__ import annotations

ELEMENTS = {"H", "C", "N", "O", "F", "S", "Cl"}

#: SMILES molecules of ``mol`` (labelled at GFN2), name -> SMILES.
MOL_SMILES: dict[str, str] = {
    "glycine": "NCC(=O)O",
    "alanine": "CC(N)C(=O)O",
    "serine": "OCC(N)C(=O)O",
    "cysteine": "SCC(N)C(=O)O",
    "threonine": "CC(O)C(N)C(=O)O",
    "valine": "CC(C)C(N)C(=O)O",
    "proline": "OC(=O)C1CCCN1",
    "methionine": "CSCCC(N)C(=O)O",
    "urea": "NC(N)=O",
    "N-methylacetamide": "CNC(C)=O",
    "imidazole": "c1cnc[nH]1",
    "pyrimidine": "c1cncnc1",
    "uracil": "O=c1cc[nH]c(=O)[nH]1",
    "cytosine": "Nc1cc[nH]c(=O)n1",
    "phenol": "Oc1ccccc1",
    "aniline": "Nc1ccccc1",
    "toluene": "Cc1ccccc1",
    "benzoic-acid": "OC(=O)c1ccccc1",
    "benzaldehyde": "O=Cc1ccccc1",
    "anisole": "COc1ccccc1",
    "chlorobenzene": "Clc1ccccc1",
    "fluorobenzene": "Fc1ccccc1",
    "thioanisole": "CSc1ccccc1",
    "ethylene-glycol": "OCCO",
    "glycerol": "OCC(O)CO",
    "1-butanol": "CCCCO",
    "cyclohexane": "C1CCCCC1",
    "cyclohexanol": "OC1CCCCC1",
    "morpholine": "C1COCCN1",
    "piperidine": "C1CCNCC1",
    "tetrahydrofuran": "C1CCOC1",
    "1,4-dioxane": "C1COCCO1",
    "ethyl-acetate": "CCOC(C)=O",
    "2-butanone": "CCC(C)=O",
    "acrylic-acid": "C=CC(=O)O",
    "maleic-acid": "OC(=O)/C=C\\C(=O)O",
    "oxalic-acid": "OC(=O)C(=O)O",
    "2,2,2-trifluoroethanol": "OCC(F)(F)F",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "caffeine": "Cn1cnc2c1c(=O)n(C)c(=O)n2C",
    "thiazole": "c1cscn1",
    "dimethylformamide": "CN(C)C=O",
    "methanesulfonic-acid": "CS(=O)(=O)O",
    "2-chloroethanol": "OCCCl",
    "acetylacetone": "CC(=O)CC(C)=O",
    "pyrazine": "c1cnccn1",
    "nitrobenzene": "[O-][N+](=O)c1ccccc1",
    "benzonitrile": "N#Cc1ccccc1",
    "hexane": "CCCCCC",
    "2-methylpentane": "CC(C)CCC",
    "propylamine": "CCCN",
    "diethyl-ether": "CCOCC",
    "succinic-acid": "OC(=O)CCC(=O)O",
    "4-fluorophenol": "Oc1ccc(F)cc1",
    "3-chloropyridine": "Clc1cccnc1",
    "thiophenol": "Sc1ccccc1",
    "lactic-acid": "CC(O)C(=O)O",
    "pyruvic-acid": "CC(=O)C(=O)O",
    "ethanolamine": "NCCO",
}

#: SMILES molecules of ``mol-base`` (labelled at GFN1); no formula shared with ``mol``.
MOL_BASE_SMILES: dict[str, str] = {
    "indole": "c1ccc2[nH]ccc2c1",
    "quinoline": "c1ccc2ncccc2c1",
    "naphthalene": "c1ccc2ccccc2c1",
    "benzimidazole": "c1ccc2[nH]cnc2c1",
    "nicotinamide": "NC(=O)c1cccnc1",
    "histamine": "NCCc1c[nH]cn1",
    "phenylalanine": "NC(Cc1ccccc1)C(=O)O",
    "asparagine": "NC(=O)CC(N)C(=O)O",
    "glutamic-acid": "NC(CCC(=O)O)C(=O)O",
    "leucine": "CC(C)CC(N)C(=O)O",
    "thymine": "Cc1c[nH]c(=O)[nH]c1=O",
    "salicylic-acid": "OC(=O)c1ccccc1O",
    "vanillin": "COc1cc(C=O)ccc1O",
    "hydroquinone": "Oc1ccc(O)cc1",
    "catechol": "Oc1ccccc1O",
    "p-xylene": "Cc1ccc(C)cc1",
    "styrene": "C=Cc1ccccc1",
    "acetophenone": "CC(=O)c1ccccc1",
    "benzamide": "NC(=O)c1ccccc1",
    "4-chloroaniline": "Nc1ccc(Cl)cc1",
    "2,4-difluorotoluene": "Cc1ccc(F)cc1F",
    "dichloroacetic-acid": "OC(=O)C(Cl)Cl",
    "trifluoroacetamide": "NC(=O)C(F)(F)F",
    "sulfolane": "O=S1(=O)CCCC1",
    "thiomorpholine": "C1CSCCN1",
    "dimethyl-sulfone": "CS(C)(=O)=O",
    "cyclopentanone": "O=C1CCCC1",
    "gamma-butyrolactone": "O=C1CCCO1",
    "2-pyrrolidone": "O=C1CCCN1",
    "piperazine": "C1CNCCN1",
    "1-pentanol": "CCCCCO",
    "heptane": "CCCCCCC",
    "methyl-tert-butyl-ether": "COC(C)(C)C",
    "propionitrile-oxime": "CC/C=N/O",
    "malonic-acid": "OC(=O)CC(=O)O",
    "glycolic-acid": "OCC(=O)O",
    "ethyl-carbamate": "CCOC(N)=O",
    "2-mercaptoethanol": "OCCS",
    "chloroacetone": "CC(=O)CCl",
    "1,3-dichloropropane": "ClCCCCl",
}

#: Monomers (ase.build.molecule names) combined into dimers for ``mol``.
DIMER_MONOMERS = ["H2O", "NH3", "CH4", "HF", "HCl", "CH3OH", "H2CO", "SH2", "CH3CN", "HCOOH"]


def g2_names() -> list[str]:
    """Closed-shell neutral G2 molecules (two or more atoms) made of H C N O F S Cl."""
    from ase.collections import g2

    out = []
    for name in g2.names:
        atoms = g2[name]
        if name.startswith("CH2_"):
            continue  # carbene states
        if len(atoms) < 2 or not set(atoms.get_chemical_symbols()) <= ELEMENTS:
            continue
        if atoms.numbers.sum() % 2 or abs(atoms.get_initial_magnetic_moments()).sum() > 0:
            continue
        out.append(name)
    return out
