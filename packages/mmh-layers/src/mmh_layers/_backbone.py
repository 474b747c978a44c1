"""The MACE backbone: element embedding, interaction blocks and product bases."""

from __future__ import annotations

import dataclasses

import torch
from e3nn import o3

from ._config import BackboneConfig
from ._convert import copy_parameters, default_dtype
from ._embedding import ElementEmbedding, ElementLinear
from ._interaction import InteractionSpec, interaction_block_class
from ._ops import check_backend
from ._product import ProductBasis
from ._radial import AgnesiTransform, BesselBasis, PolynomialEnvelope

#: module types whose parameters weight decay applies to
#: (see `MACEBackbone.weight_decay_parameters`)
_DECAYED_TYPES = (o3.Linear, ElementLinear, ProductBasis)


class MACEBackbone(torch.nn.Module):
    """Turns a graph (atomic numbers, edge vectors, edge index) into node features per layer.

    The edge convention: ``edge_index[0]`` is the sender ``j``, ``edge_index[1]`` the receiver
    ``i`` whose features are updated, and ``edge_vectors`` point from sender to receiver
    (any consistent choice is equivariant; this one matches ASE's ``neighbor_list``).

    Layer 0 uses the block ``config.first_block`` (``config.block`` when unset), the other
    layers ``config.block``. A block without a self-connection (the non-residual first
    layers) makes its product basis add none.

    Args:
        config: the hyper-parameters.

    Attributes:
        envelope_after_mlp: where the envelope multiplies, resolved from the config: on the
            radial MLP output (True; the blocks receive the envelope as ``cutoff``) or on
            the Bessel features (False; ``cutoff`` is None).

    Example:
        >>> import torch
        >>> cfg = BackboneConfig(elements=(1, 8), channels=8, max_L=1, r_max=4.0)
        >>> backbone = MACEBackbone(cfg)
        >>> z = torch.tensor([8, 1, 1])
        >>> vec = torch.tensor([[0.9, 0.3, 0.0], [-0.9, -0.3, 0.0]])
        >>> feats = backbone(z, vec, torch.tensor([[1, 0], [0, 1]]))
        >>> [f.shape[1] for f in feats]  # 8x0e+8x1o, then 8x0e in the last layer
        [32, 8]
    """

    def __init__(self, config: BackboneConfig) -> None:
        super().__init__()
        check_backend(config.backend)
        self.config = config
        block_classes = [interaction_block_class(name) for name in config.blocks]
        after_mlp = config.envelope_after_mlp
        if after_mlp is None:
            after_mlp = interaction_block_class(config.block).envelope_after_mlp
        self.envelope_after_mlp = after_mlp
        num_elements = len(config.elements)
        table = torch.full((119,), -1, dtype=torch.long)
        table[list(config.elements)] = torch.arange(num_elements)
        self.register_buffer("species_of_z", table, persistent=False)

        c = config.channels
        self.node_embedding = ElementEmbedding(num_elements, c)
        self.radial_basis = BesselBasis(config.r_max, config.num_bessel)
        self.envelope = PolynomialEnvelope(config.r_max, config.envelope_p)
        self.distance_transform = (
            AgnesiTransform() if config.distance_transform == "agnesi" else None
        )
        irreps_sh = o3.Irreps.spherical_harmonics(config.max_ell)
        self.spherical_harmonics = o3.SphericalHarmonics(
            irreps_sh, normalize=True, normalization="component"
        )
        irreps_basis = (irreps_sh * c).sort()[0].simplify()
        irreps_hidden = config.irreps_hidden
        irreps_scalar = o3.Irreps(f"{c}x0e")
        edge_c = config.edge_channels or c

        self.irreps_out: list[o3.Irreps] = []
        self.interactions = torch.nn.ModuleList()
        self.products = torch.nn.ModuleList()
        irreps_in = irreps_scalar
        for layer in range(config.num_interactions):
            last = layer == config.num_interactions - 1
            irreps_out = (
                irreps_scalar if last and not config.keep_last_layer_irreps else irreps_hidden
            )
            if layer == 0:
                irreps_edge = o3.Irreps(f"{edge_c if config.edge_irreps_first else c}x0e")
            else:
                irreps_edge = config.irreps_edge
            spec = InteractionSpec(
                irreps_node=irreps_in,
                irreps_edge=irreps_edge,
                irreps_sh=irreps_sh,
                irreps_target=irreps_basis,
                irreps_skip=irreps_out,
                num_elements=num_elements,
                num_bessel=config.num_bessel,
                radial_mlp=config.radial_mlp,
                avg_num_neighbors=config.avg_num_neighbors,
                backend=config.backend,
            )
            self.interactions.append(block_classes[layer](spec))
            self.products.append(
                ProductBasis(
                    irreps_basis,
                    irreps_out,
                    config.correlations[layer],
                    num_elements,
                    config.agnostic,
                    config.backend,
                )
            )
            self.irreps_out.append(irreps_out)
            irreps_in = irreps_out

    def to_backend(self, backend: str) -> MACEBackbone:
        """A copy of this backbone computed with another backend (``"e3nn"`` or ``"cueq"``).

        Parameters are copied exactly; outputs agree to floating-point rounding.
        """
        ref = next(self.parameters())
        with default_dtype(ref.dtype):
            other = MACEBackbone(dataclasses.replace(self.config, backend=backend))
        other = other.to(device=ref.device)
        copy_parameters(self, other)
        return other

    def weight_decay_parameters(self) -> list[torch.nn.Parameter]:
        """The parameters weight decay applies to, as in mace-torch's optimiser groups: the
        equivariant linear maps (e3nn ``o3.Linear`` and the cueq backend's linear maps), the
        element-dependent skip connections, and every product basis (symmetric contraction
        weights and its linear map). Embeddings, radial MLPs and scalars are left out.

        The choice is made by module type, not by parameter name, so renaming a layer does
        not move a parameter between groups. A module of a new kind opts in with a class
        attribute ``weight_decay_applies = True``.
        """
        out: list[torch.nn.Parameter] = []
        seen: set[int] = set()
        for module in self.modules():
            if isinstance(module, _DECAYED_TYPES) or getattr(module, "weight_decay_applies", False):
                for p in module.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        out.append(p)
        return out

    def species(self, atomic_numbers: torch.Tensor) -> torch.Tensor:
        """Indices into the element table; raises on elements outside it."""
        species = self.species_of_z[atomic_numbers]
        if not torch.compiler.is_compiling() and bool((species < 0).any()):
            unknown = sorted(set(atomic_numbers[species < 0].tolist()))
            raise ValueError(
                f"atomic numbers {unknown} are not in the model's element table "
                f"{list(self.config.elements)}"
            )
        return species

    def edge_embedding(
        self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edge_index: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Spherical harmonics ``[E, (l+1)^2]``, radial features ``[E, n_bessel]`` and the
        envelope ``[E, 1]`` (None when it is folded into the radial features)."""
        lengths = torch.linalg.vector_norm(edge_vectors, dim=-1, keepdim=True)
        sh = self.spherical_harmonics(edge_vectors)
        cutoff = self.envelope(lengths)
        r = lengths
        if self.distance_transform is not None:
            r = self.distance_transform(lengths, atomic_numbers, edge_index)
        radial = self.radial_basis(r)
        if self.envelope_after_mlp:
            return sh, radial, cutoff
        return sh, radial * cutoff, None

    def forward(
        self, atomic_numbers: torch.Tensor, edge_vectors: torch.Tensor, edge_index: torch.Tensor
    ) -> list[torch.Tensor]:
        """Node features of every layer, ``[N, irreps_out[s].dim]`` each (e3nn layout).

        Args:
            atomic_numbers: ``[N]`` int64.
            edge_vectors: ``[E, 3]`` in Å, sender → receiver.
            edge_index: ``[2, E]`` int64, sender row first.
        """
        species = self.species(atomic_numbers)
        sh, radial, cutoff = self.edge_embedding(atomic_numbers, edge_vectors, edge_index)
        h = self.node_embedding(species)
        features = []
        for interaction, product in zip(self.interactions, self.products, strict=True):
            basis, skip = interaction(h, species, sh, radial, cutoff, edge_index)
            h = product(basis, skip, species)
            features.append(h)
        return features
