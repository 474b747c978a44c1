"""Named parameter groups of a model: what ``finetune.freeze`` and ``optimizer.lr_factors``
refer to.

The names follow mmh's module tree (and mace-torch's optimiser groups):

| name | parameters |
|---|---|
| `backbone` | the whole shared backbone (embedding, interactions, products) |
| `embedding` | the element embedding (`backbone.node_embedding`) |
| `interactions` | every interaction block (with its radial MLP) |
| `interactions.<k>` | interaction block `k` (0 is the first) |
| `products` | every product basis (symmetric contraction and its linear map) |
| `products.<k>` | product basis `k` |
| `readouts` | the readouts of all heads |
| `readouts.<head>` | the readout of one head, by name |

The per-head E0s, scale and shift are buffers, not parameters: no group trains them.
`group_modules` is the one place that maps a name to modules.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import torch
from mmh_heads import MultiHeadMACE

from ._typed import ConfigError

__all__ = [
    "freeze_groups",
    "group_lr_factors",
    "group_modules",
    "group_names",
    "group_parameters",
    "group_rank",
]

_INDEXED = ("interactions", "products")


def group_names(model: MultiHeadMACE) -> list[str]:
    """Every group name of ``model``, most general first within each part."""
    n = len(model.backbone.interactions)
    names = ["backbone", "embedding"]
    for part in _INDEXED:
        names += [part] + [f"{part}.{k}" for k in range(n)]
    names += ["readouts"] + [f"readouts.{h}" for h in model.heads]
    return names


def _unknown(model: MultiHeadMACE, name: str, where: str) -> ConfigError:
    return ConfigError(
        f"{where}: unknown parameter group {name!r}; the groups of this model are "
        f"{', '.join(group_names(model))}"
    )


def group_modules(model: MultiHeadMACE, name: str, where: str = "group") -> list[torch.nn.Module]:
    """The modules whose parameters make up group ``name``.

    Args:
        model: The model.
        name: A group name (see the module docstring).
        where: The configuration key, for the error message.

    Raises:
        ConfigError: Unknown group (the message lists the model's groups).
    """
    backbone = model.backbone
    if name == "backbone":
        return [backbone]
    if name == "embedding":
        return [backbone.node_embedding]
    if name == "readouts":
        return [model.readouts]
    part, dot, rest = name.partition(".")
    if part in _INDEXED:
        blocks = getattr(backbone, part)
        if not dot:
            return [blocks]
        if rest.isdigit() and int(rest) < len(blocks) and str(int(rest)) == rest:
            return [blocks[int(rest)]]
    elif part == "readouts" and rest in model.heads:
        return [model.readout(rest)]
    raise _unknown(model, name, where)


def group_parameters(
    model: MultiHeadMACE, name: str, where: str = "group"
) -> list[torch.nn.Parameter]:
    """The parameters of group ``name`` (in module order, each once)."""
    seen: set[int] = set()
    out = []
    for module in group_modules(model, name, where):
        for p in module.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def group_rank(name: str) -> int:
    """How specific a group is: 0 for ``backbone``, 1 for a part (``interactions``,
    ``readouts``...), 2 for one block or head. Groups of equal rank never overlap."""
    if name == "backbone":
        return 0
    part, dot, _ = name.partition(".")
    return 2 if dot and part in (*_INDEXED, "readouts") else 1


def freeze_groups(model: MultiHeadMACE, names: Iterable[str], where: str) -> list[str]:
    """Switch off ``requires_grad`` of every parameter of the named groups.

    Args:
        model: The model (changed in place).
        names: Group names.
        where: The configuration key, for error messages.

    Returns:
        The names, each once, in the given order.

    Raises:
        ConfigError: An unknown group.
    """
    done: list[str] = []
    for k, name in enumerate(names):
        for p in group_parameters(model, name, f"{where}[{k}]"):
            p.requires_grad_(False)
        if name not in done:
            done.append(name)
    return done


def group_lr_factors(
    model: MultiHeadMACE, factors: Mapping[str, float], where: str = "optimizer.lr_factors"
) -> dict[int, tuple[str, float]]:
    """``{id(parameter): (group, factor)}`` for every parameter that a group of
    ``factors`` covers; where groups overlap, the most specific (`group_rank`) wins.

    Raises:
        ConfigError: An unknown group.
    """
    out: dict[int, tuple[str, float]] = {}
    for name in sorted(factors, key=group_rank):
        for p in group_parameters(model, name, f"{where}.{name}"):
            out[id(p)] = (name, float(factors[name]))
    return out
