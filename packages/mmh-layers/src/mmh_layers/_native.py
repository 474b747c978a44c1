"""The native CPU kernels of mmh-layers: building them, and their autograd formulas.

The C++ sources in ``csrc/`` are compiled on first use with the machine's C++ compiler
(``torch.utils.cpp_extension``, cached in torch's extension directory) and register the
``torch.ops.mmh_native`` operators. Where they cannot be built (no compiler, no ninja, a
failing build), [`native_available`][mmh_layers.native_available] returns False and warns
once, naming the reason; the models then run the e3nn reference path, which computes the
same function.

``MMH_NATIVE=0`` in the environment switches the native kernels off (the e3nn path is used);
[`use_native`][mmh_layers.use_native] does the same for a block of code.

The fused convolution ``conv_fwd(w, x, sh)`` is trilinear in its three tensor operands, so
its gradient and every higher derivative are again sums of ``conv_fwd`` and ``conv_bwd``
calls. The formulas below register both operators with autograd that way, which gives
forces (first derivatives) and force training (second derivatives) from two kernels.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import platform
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path

import torch

_SOURCES = [Path(__file__).parent / "csrc" / "fused_conv.cpp"]
_lock = threading.Lock()
_state: dict[str, object] = {"loaded": None, "error": None, "enabled": None}

__all__ = ["native_available", "native_build_error", "native_enabled", "use_native"]


def _cpu_tag() -> str:
    """A short tag of the CPU's instruction-set flags: the build uses ``-march=native``, so a
    home directory shared by different machines keeps one build per CPU kind."""
    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                flags = line
                break
    except OSError:
        pass
    digest = hashlib.sha1()
    digest.update(f"{platform.machine()} {flags} {torch.__version__}".encode())
    for source in _SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:12]


def _build() -> None:
    # torch's extension module logs about CUDA at import; this build is CPU-only
    log = logging.getLogger("torch.utils.cpp_extension")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        _load()
    finally:
        log.setLevel(level)


def _load() -> None:
    from torch.utils import cpp_extension

    flags = ["-O3", "-fopenmp", "-ffp-contract=fast"]
    if platform.machine() in ("x86_64", "AMD64"):
        flags.append("-march=native")
    elif platform.machine() in ("aarch64", "arm64"):
        flags.append("-mcpu=native")
    cpp_extension.load(
        name=f"mmh_native_{_cpu_tag()}",
        sources=[str(s) for s in _SOURCES],
        extra_cflags=flags,
        extra_ldflags=["-fopenmp"],
        is_python_module=False,
        verbose=False,
    )


def native_available() -> bool:
    """Whether the native operators are loaded, building them on the first call.

    A build failure is reported once, as a warning naming the reason; it is not retried in
    this process.
    """
    if _state["loaded"] is not None:
        return bool(_state["loaded"])
    with _lock:
        if _state["loaded"] is None:
            try:
                _build()
                _register()
                _state["loaded"] = True
            except Exception as err:  # any build failure means "not available"
                _state["loaded"] = False
                _state["error"] = f"{type(err).__name__}: {err}".strip()
                warnings.warn(
                    "mmh-layers could not build its native CPU kernels, so models run the "
                    "(slower) e3nn path, which computes the same numbers. Reason: "
                    f"{_state['error'].splitlines()[0][:300]}. A C++ compiler (g++ or clang++) "
                    "and ninja are needed; set MMH_NATIVE=0 to silence this.",
                    RuntimeWarning,
                    stacklevel=3,
                )
    return bool(_state["loaded"])


def native_build_error() -> str | None:
    """The reason the native kernels could not be built, or None."""
    return _state["error"]  # type: ignore[return-value]


def native_enabled() -> bool:
    """Whether models use the native kernels on CPU tensors: not switched off (by
    ``MMH_NATIVE=0`` or [`use_native`][mmh_layers.use_native]) and built."""
    enabled = _state["enabled"]
    if enabled is None:
        enabled = os.environ.get("MMH_NATIVE", "1").strip().lower() not in ("0", "false", "no")
    return bool(enabled) and native_available()


@contextlib.contextmanager
def use_native(enabled: bool) -> Iterator[None]:
    """Switch the native kernels on or off inside a ``with`` block (for parity checks and
    benchmarks against the e3nn reference path)."""
    previous = _state["enabled"]
    _state["enabled"] = bool(enabled)
    try:
        yield
    finally:
        _state["enabled"] = previous


# --- autograd and fake kernels of the operators ------------------------------------------


def _conv_fwd_fake(w, x, sh, sender, receiver, num_nodes, path_index, path_coef, num_out):
    return w.new_empty(num_nodes, num_out, w.shape[2])


def _conv_bwd_fake(grad, w, x, sh, sender, receiver, path_index, path_coef, nw, nx, nsh):
    return (
        torch.empty_like(w) if nw else w.new_empty(0),
        torch.empty_like(x) if nx else x.new_empty(0),
        torch.empty_like(sh) if nsh else sh.new_empty(0),
    )


def _fwd_setup(ctx, inputs, output):
    w, x, sh, sender, receiver, _, path_index, path_coef, _ = inputs
    ctx.save_for_backward(w, x, sh, sender, receiver, path_index, path_coef)


def _fwd_backward(ctx, grad):
    w, x, sh, sender, receiver, path_index, path_coef = ctx.saved_tensors
    nw, nx, nsh = ctx.needs_input_grad[:3]
    if grad is None or not (nw or nx or nsh):
        return (None,) * 9
    gw, gx, gsh = torch.ops.mmh_native.conv_bwd(
        grad, w, x, sh, sender, receiver, path_index, path_coef, nw, nx, nsh
    )
    return (gw if nw else None, gx if nx else None, gsh if nsh else None) + (None,) * 6


def _bwd_setup(ctx, inputs, output):
    grad, w, x, sh, sender, receiver, path_index, path_coef, nw, nx, nsh = inputs
    ctx.save_for_backward(grad, w, x, sh, sender, receiver, path_index, path_coef)
    ctx.computed = (nw, nx, nsh)


def _add(a, b):
    return b if a is None else (a if b is None else a + b)


def _bwd_backward(ctx, ggw, ggx, ggsh):
    """Cotangents of (gw, gx, gsh) to cotangents of (grad, w, x, sh).

    With ``L(w, x, sh) = <grad, conv_fwd(w, x, sh)>``: ``gw = dL/dw`` etc. Each backward output
    is linear in the other operands, so ``<ggw, gw> = L(ggw, x, sh)`` and likewise for x and sh;
    differentiating those three trilinear forms gives the terms below.
    """
    grad, w, x, sh, sender, receiver, path_index, path_coef = ctx.saved_tensors
    computed = ctx.computed
    ggw = ggw if computed[0] and ggw is not None and ggw.numel() else None
    ggx = ggx if computed[1] and ggx is not None and ggx.numel() else None
    ggsh = ggsh if computed[2] and ggsh is not None and ggsh.numel() else None
    need_g, need_w, need_x, need_sh = ctx.needs_input_grad[:4]
    n, o = x.shape[0], grad.shape[1]
    ops = torch.ops.mmh_native
    d_grad = d_w = d_x = d_sh = None
    if need_g:
        for a, b, c in ((ggw, x, sh), (w, ggx, sh), (w, x, ggsh)):
            if a is not None and b is not None and c is not None:
                term = ops.conv_fwd(a, b, c, sender, receiver, n, path_index, path_coef, o)
                d_grad = _add(d_grad, term)
    if ggw is not None and (need_x or need_sh):
        _, gx, gsh = ops.conv_bwd(
            grad, ggw, x, sh, sender, receiver, path_index, path_coef, False, need_x, need_sh
        )
        d_x = _add(d_x, gx if need_x else None)
        d_sh = _add(d_sh, gsh if need_sh else None)
    if ggx is not None and (need_w or need_sh):
        gw, _, gsh = ops.conv_bwd(
            grad, w, ggx, sh, sender, receiver, path_index, path_coef, need_w, False, need_sh
        )
        d_w = _add(d_w, gw if need_w else None)
        d_sh = _add(d_sh, gsh if need_sh else None)
    if ggsh is not None and (need_w or need_x):
        gw, gx, _ = ops.conv_bwd(
            grad, w, x, ggsh, sender, receiver, path_index, path_coef, need_w, need_x, False
        )
        d_w = _add(d_w, gw if need_w else None)
        d_x = _add(d_x, gx if need_x else None)
    return (d_grad, d_w, d_x, d_sh) + (None,) * 7


def _register() -> None:
    torch.library.register_fake("mmh_native::conv_fwd")(_conv_fwd_fake)
    torch.library.register_fake("mmh_native::conv_bwd")(_conv_bwd_fake)
    torch.library.register_autograd("mmh_native::conv_fwd", _fwd_backward, setup_context=_fwd_setup)
    torch.library.register_autograd("mmh_native::conv_bwd", _bwd_backward, setup_context=_bwd_setup)
