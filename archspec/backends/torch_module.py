"""IR -> a plain ``torch.nn.Module``: generated straight-line forward code (torch.fx), named after the spec."""

from __future__ import annotations

import operator

import torch
from torch import fx, nn
from torch.fx.graph_module import _USER_PRESERVED_ATTRIBUTES_KEY

from archspec.analysis.in_place import in_place_inputs
from archspec.ir.graph import Graph


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").replace(".", "_").split("_")) or "Network"


def to_module(graph: Graph, *, initialise: bool = True) -> fx.GraphModule:
    """Compile an analysed graph into a GraphModule whose submodules carry the spec's stage/block names.

    The forward is generated Python with one statement per node, so there is no interpretation overhead,
    and the module works with ``torch.compile`` and ``torch.export``. With several outputs (auxiliary heads)
    the forward returns a tuple: main output first. With ``initialise=False`` the modules are built on the meta
    device and then given uninitialised storage: fast, for when every tensor will be loaded anyway.
    The module records the spec it was compiled from in two plain attributes, ``spec_name`` and ``spec_hash``
    (``Spec.content_hash``), which ``save_weights`` and ``load_weights`` check; they survive ``torch.save`` /
    ``torch.load(weights_only=False)`` and ``copy.deepcopy``.
    """
    if not initialise:
        with torch.device("meta"):
            model = to_module(graph)
        return model.to_empty(device="cpu")
    code = fx.Graph()
    values: dict[str, fx.Node] = {}
    modules: dict[str, nn.Module] = {}
    overwrites = in_place_inputs(graph)
    for node in graph:
        if node.op is None:
            values[node.name] = code.placeholder("x")
            continue
        shapes = [graph[name].shape for name in node.inputs]
        args = tuple(values[name] for name in node.inputs)
        module = node.op.module(node.attrs, shapes, node.shape)
        if module is not None:
            if hasattr(module, "inplace") and node.name in overwrites:
                setattr(module, "inplace", True)  # noqa: B010  (as hand-written networks do: one buffer fewer)
            modules[node.name] = module
            values[node.name] = code.call_module(node.name, args)
        elif node.name in overwrites:  # a residual add into its fresh summand (``out += identity``)
            fresh = overwrites[node.name]
            other = next(name for name in node.inputs if name != fresh)
            values[node.name] = code.call_function(operator.iadd, (values[fresh], values[other]))
        else:
            function, kwargs = node.op.function(node.attrs, shapes)
            values[node.name] = code.call_function(function, args, kwargs)
    outputs = [values[name] for name in graph.outputs]
    code.output(outputs[0] if len(outputs) == 1 else tuple(outputs))
    model = fx.GraphModule(_ordered_root(modules), code, class_name=_class_name(graph.name))
    spec = {"spec_name": graph.name, "spec_hash": graph.spec_hash}
    for attribute, value in spec.items():
        setattr(model, attribute, value)
    # GraphModule's deepcopy rebuilds the module and keeps only the attributes listed here (torch.save keeps all)
    model.meta[_USER_PRESERVED_ATTRIBUTES_KEY] = spec
    return model


def _ordered_root(modules: dict[str, nn.Module]) -> nn.Module:
    """A module tree holding ``modules`` at their dotted names, registered in graph order.

    (GraphModule given a plain dict would register them by nesting depth, which reorders the state dict.)
    """
    root = nn.Module()
    for name, module in modules.items():
        *parents, leaf = name.split(".")
        parent = root
        for part in parents:
            if not hasattr(parent, part):
                parent.add_module(part, nn.Module())
            parent = getattr(parent, part)
        parent.add_module(leaf, module)
    return root

