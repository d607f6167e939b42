"""Compiled weights as safetensors, tagged with the spec's content hash so they load only into the same network."""

from __future__ import annotations

import errno
import os
import pickle
import warnings
from typing import TYPE_CHECKING, cast

from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from archspec.errors import WeightsError
from archspec.spec.source import FileError, file_path, regular_file_size

if TYPE_CHECKING:
    from archspec.api import Spec

NAME_KEY = "archspec.spec"
HASH_KEY = "archspec.content_hash"


def save_weights(model: nn.Module, path: str | os.PathLike[str] | Spec, *deprecated: str | os.PathLike[str]) -> None:
    """Write ``model``'s state dict to a safetensors file naming the spec it was compiled from and its hash."""
    path = _old_form("save_weights", model, path, deprecated)
    spec_name, spec_hash = spec_of(model)
    tensors = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    try:
        save_file(tensors, path, metadata={NAME_KEY: spec_name, HASH_KEY: spec_hash})
    except SafetensorError as exc:  # an OSError, as open() would raise, not the library's own exception
        reason = str(exc).rpartition("I/O error: ")[2].split(" (os error")[0]
        raise OSError(errno.EIO, reason) from None
    # safetensors reports no failed write (a full disk leaves a short file): the header says how long it must be
    with open(path, "rb") as written:
        header = int.from_bytes(written.read(8), "little")
        size = os.fstat(written.fileno()).st_size
    if size != 8 + header + sum(tensor.numel() * tensor.element_size() for tensor in tensors.values()):
        raise OSError(errno.EIO, "the file was written incompletely (is the disk full?)")


def load_weights(model: nn.Module, path: str | os.PathLike[str] | Spec, *deprecated: str | os.PathLike[str],
                 check_hash: bool = True) -> None:
    """Load weights written by ``save_weights`` into ``model``, if saved from the spec it was compiled from.

    Weights saved from another spec (another content hash than ``model.spec_hash``), or whose tensors differ from
    the model's in name, shape or dtype, raise WeightsError naming the first mismatching tensor.
    ``check_hash=False`` accepts weights from a spec that differs only where no tensor shows it (another
    activation, dropout, a comment), and loads into any module.
    """
    path = _old_form("load_weights", model, path, deprecated)
    expected = spec_of(model) if check_hash else None
    file = file_path(path)
    try:
        regular_file_size(file)
        with safe_open(file, framework="pt") as handle:
            metadata = handle.metadata() or {}
            shapes = {name: list(handle.get_slice(name).get_shape()) for name in handle.keys()}  # noqa: SIM118
        state = model.state_dict()
        mismatch = first_mismatch({name: list(t.shape) for name, t in state.items()}, shapes)
        tensors = {} if mismatch else load_file(file)
    except FileError as exc:
        raise WeightsError(f"{file}: {exc.reason}") from None
    except (OSError, SafetensorError) as exc:
        # the library's message may go on to quote the file's header: its first two parts say what is wrong
        reason = ": ".join(" ".join(str(exc).split()).split(": ")[:2])
        raise WeightsError(f"{file}: cannot read safetensors weights: {reason}") from None
    mismatch = mismatch or next((f"{name!r} is {str(tensors[name].dtype).removeprefix('torch.')} in the file but "
                                 f"{str(tensor.dtype).removeprefix('torch.')} in the model"
                                 for name, tensor in state.items() if tensors[name].dtype != tensor.dtype), None)
    saved = metadata.get(HASH_KEY)
    if expected and saved != expected[1]:
        origin = (f"were saved from spec {metadata.get(NAME_KEY)!r} (content hash {saved[:12]})" if saved
                  else "carry no archspec content hash")
        detail = (f"first mismatching tensor: {mismatch}" if mismatch else
                  "every tensor matches in name, shape and dtype (load_weights(..., check_hash=False) accepts them)")
        raise WeightsError(f"{file}: the weights {origin}, not from spec {expected[0]!r} (content hash "
                           f"{expected[1][:12]}); {detail}")
    if mismatch:
        raise WeightsError(f"{file}: the weights do not fit the model: first mismatching tensor: {mismatch}")
    model.load_state_dict(tensors)


def spec_of(model: nn.Module) -> tuple[str, str]:
    """The name and content hash of the spec ``model`` was compiled from (``to_module`` records them)."""
    spec_hash = getattr(model, "spec_hash", None)
    if not isinstance(spec_hash, str) or not spec_hash:
        raise WeightsError(f"the model ({type(model).__name__}) records no spec_hash: only a module compiled by "
                           "archspec (Spec.build) knows the content hash of its spec")
    return str(getattr(model, "spec_name", "")), spec_hash


def _old_form(function: str, model: nn.Module, path: str | os.PathLike[str] | Spec,
              deprecated: tuple[str | os.PathLike[str], ...]) -> str | os.PathLike[str]:
    """The path of a ``function(model, path)`` call, or of the deprecated ``function(model, spec, path)`` once its
    spec is found to be the model's."""
    if not deprecated:
        return cast("str | os.PathLike[str]", path)
    if len(deprecated) > 1:
        raise TypeError(f"{function}() takes 2 positional arguments but {2 + len(deprecated)} were given")
    warnings.warn(f"{function}(model, spec, path) is deprecated and will be removed in the next release: call "
                  f"{function}(model, path) (the compiled module records its spec)", DeprecationWarning, stacklevel=3)
    spec = cast("Spec", path)
    name, spec_hash = spec_of(model)
    if spec.content_hash != spec_hash:
        raise WeightsError(f"{function}: the model was compiled from spec {name!r} (content hash {spec_hash[:12]}), "
                           f"not from the spec {spec.name!r} given (content hash {spec.content_hash[:12]})")
    return deprecated[0]


def first_mismatch(expected: dict[str, list[int]], found: dict[str, list[int]]) -> str | None:
    """The first tensor (in the model's order) missing, extra or of another shape in ``found``, described."""
    for name, shape in expected.items():
        if name not in found:
            return f"{name!r} {shape} is missing from the file"
        if found[name] != shape:
            return f"{name!r} is {found[name]} in the file but {shape} in the model"
    extra = [name for name in found if name not in expected]
    return f"{extra[0]!r} {found[extra[0]]} in the file is not in the model" if extra else None


def save_module(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Write the whole module with ``torch.save`` (load it with ``torch.load(path, weights_only=False)``)."""
    import torch

    with open(path, "wb") as file:  # a file object: a full disk is then an OSError, not torch's RuntimeError
        torch.save(model, file)


def load_reference_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Load weights into ``model`` from a ``.safetensors`` file of ours (``load_weights``) or from a state dict
    saved with ``torch.save`` by torchvision, timm or any implementation with the same tensors in the same layer
    order (``transfer_weights``)."""
    import torch

    from archspec.backends.weights import transfer_weights

    path = file_path(path)
    if path.endswith(".safetensors"):
        load_weights(model, path)
        return
    regular_file_size(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:  # torch.load's refusals
        raise WeightsError(f"{path}: not a state dict saved with torch.save ({str(exc).splitlines()[0]})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]  # a training checkpoint that holds the state dict
    if not isinstance(state, dict) or not all(isinstance(t, torch.Tensor) for t in state.values()):
        raise WeightsError(f"{path}: expected a state dict (tensor names to tensors)")
    transfer_weights(model, state)
