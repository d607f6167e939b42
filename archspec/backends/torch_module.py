"""IR -> a PyTorch module tree: the stem, each stage row and each block instance a module with its own forward
(generated code, torch.fx), every node's module at the spec's dotted name."""

from __future__ import annotations

import inspect
import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn

from archspec.analysis.in_place import in_place_inputs
from archspec.backends.network import FeatureInfo, Network, Scope, classifier_of, feature_info
from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("-", "_").replace(".", "_").split("_")) or "Network"


@dataclass
class _Scope:
    """The nodes under one dotted prefix (a module of the tree), and the sub-scopes and nodes directly in it."""

    prefix: str
    members: list[Node] = field(default_factory=list)
    parts: dict[str, _Scope | Node] = field(default_factory=dict)  # by local name, in graph order

    def local(self, name: str) -> str:
        return name[len(self.prefix) + 1:] if self.prefix else name


def _tree(nodes: list[Node]) -> _Scope:
    """The scope tree of ``nodes`` (graph order) by their dotted names."""
    root = _Scope("")
    for node in nodes:
        scope = root
        scope.members.append(node)
        *parents, _ = node.name.split(".")
        for depth in range(len(parents)):
            prefix = ".".join(parents[: depth + 1])
            part = scope.parts.get(parents[depth])
            if not isinstance(part, _Scope):  # a scope's nodes are contiguous, since scopes expand one at a time
                part = scope.parts[parents[depth]] = _Scope(prefix)
            scope = part
            scope.members.append(node)
        scope.parts[scope.local(node.name)] = node
    return root


@dataclass
class _Compiler:
    """Emits one GraphModule per scope; each reads the values made outside it and returns those used outside."""

    graph: Graph
    wanted: list[str]
    overwrites: dict[str, str]
    users: dict[str, set[str]]
    listed: bool = False  # the network returns a list (of feature maps), however many
    top: dict[str, fx.Node] = field(default_factory=dict)  # the network's own forward: value per node name

    def interface(self, scope: _Scope) -> tuple[list[str], list[str]]:
        """The values a scope reads from outside (in order of first read) and those read outside it."""
        inside = {node.name for node in scope.members}
        inputs = list(dict.fromkeys(source for node in scope.members for source in node.inputs
                                    if source not in inside))
        outputs = [node.name for node in scope.members
                   if node.name in self.wanted or not self.users[node.name] <= inside]
        return inputs, outputs

    def emit(self, scope: _Scope, inputs: list[str], outputs: list[str], cls: type[fx.GraphModule],
             class_name: str) -> fx.GraphModule:
        code = fx.Graph()
        values: dict[str, fx.Node] = {}
        for index, source in enumerate(inputs):
            values[source] = code.placeholder("x" if len(inputs) == 1 else f"x{index}")
        inside = {node.name for node in scope.members}
        children: dict[str, nn.Module | nn.Parameter] = {}
        for local, part in scope.parts.items():
            if isinstance(part, _Scope):
                part_inputs, part_outputs = self.interface(part)
                children[local] = self.emit(part, part_inputs, part_outputs, Scope, self.scope_class(part))
                result = code.call_module(local, tuple(values[source] for source in part_inputs))
                for index, name in enumerate(part_outputs):
                    values[name] = result if len(part_outputs) == 1 else \
                        code.call_function(operator.getitem, (result, index))
            else:
                in_place = self.overwrites.get(part.name) in inside
                values[part.name] = self.node(code, part, local, values, children, in_place)
                values[part.name].meta["node"] = part.name  # which IR node the statement computes
        results = [values[name] for name in outputs]
        if not scope.prefix:
            self.top = values
            if self.listed:
                results = [code.call_function(list, (tuple(results),))]
        code.output(results[0] if len(results) == 1 else tuple(results))
        root = nn.Module()
        for local, child in children.items():  # registered in graph order, which is the state dict's order
            if isinstance(child, nn.Parameter):
                root.register_parameter(local, child)
            else:
                root.add_module(local, child)
        return cls(root, code, class_name=class_name)

    def node(self, code: fx.Graph, node: Node, local: str, values: dict[str, fx.Node],
             children: dict[str, nn.Module | nn.Parameter], in_place: bool) -> fx.Node:
        """One node's statement. It overwrites an input (``in_place``) only when that input was made inside the
        module, so that calling a module on its own never changes the caller's tensor."""
        assert node.op is not None
        shapes = [self.graph[name].shape for name in node.inputs]
        args = tuple(values[name] for name in node.inputs)
        module = None if node.functional else node.op.module(node.attrs, shapes, node.shape)
        if module is not None:
            if in_place and hasattr(module, "inplace"):
                setattr(module, "inplace", True)  # noqa: B010  (as hand-written networks do: one buffer fewer)
            children[local] = module
            call_args, kwargs, pick = node.op.call(args)
            result = code.call_module(local, call_args, kwargs)
            return result if pick is None else code.call_function(operator.getitem, (result, pick))
        function, kwargs = node.op.function(node.attrs, shapes)
        parameter = node.op.parameter(node.attrs, shapes)
        if parameter is not None:  # held by this scope's module, read in its forward
            children[local] = parameter
            args = (*args, code.get_attr(local))
        if in_place and node.op.family is Family.ACTIVATION:
            if "inplace" in inspect.signature(function).parameters:  # F.relu(x, inplace=True)
                kwargs = {**kwargs, "inplace": True}
        elif in_place:  # a residual add into its fresh summand (``out += identity``)
            fresh = self.overwrites[node.name]
            other = next(name for name in node.inputs if name != fresh)
            return code.call_function(operator.iadd, (values[fresh], values[other]))
        return code.call_function(function, args, kwargs)

    def scope_class(self, scope: _Scope) -> str:
        """The class name of a scope's module: a row's block instance after its block (``Bottleneck``), a row
        ``Stage``, another named scope after its name (``Downsample``), an unnamed one ``Block``."""
        first, local = scope.members[0], scope.prefix.rsplit(".", 1)[-1]
        stage = self.graph.stages.get(first.stage)
        if stage is not None and stage.row is not None:
            if scope.prefix == stage.name:
                return "Stage"
            if scope.prefix == first.block and stage.is_block and stage.block:
                return _class_name(stage.block)
        return "Block" if local.isdigit() else _class_name(local)


def to_module(graph: Graph, *, initialise: bool = True, outputs: list[str] | None = None) -> Network:
    """Compile an analysed graph into a Network: a module tree that mirrors the spec, each scope's forward
    generated code with one statement per node (no interpretation overhead; ``torch.compile`` and
    ``torch.export`` work).

    ``outputs`` (node names) replaces the network's outputs, dropping what they do not need: the feature
    extractor, whose forward returns them as a list. With several outputs (auxiliary heads) the forward returns a
    tuple, main output first. With ``initialise=False`` the modules are built on the meta device and then given
    uninitialised storage: fast, for when every tensor will be loaded anyway.
    """
    if not initialise:
        with torch.device("meta"):
            model = to_module(graph, outputs=outputs)
        empty = model.to_empty(device="cpu")
        assert isinstance(empty, Network)
        return empty
    wanted = list(outputs or graph.outputs)
    needed: set[str] = set().union(*(graph.ancestors(name) for name in wanted))
    nodes = [node for node in graph if node.name in needed and node.op is not None]
    users = {node.name: {user for user in graph.users(node.name) if user in needed} for node in graph}
    compiler = _Compiler(graph, wanted, in_place_inputs(graph), users, listed=outputs is not None)
    tree = _tree(nodes)
    compiled = compiler.emit(tree, [graph.input], wanted, Network, _class_name(graph.name))
    if not isinstance(compiled, Network):
        raise TypeError(f"compiled {type(compiled).__name__}, not a Network")
    model = compiled
    classifier = classifier_of(graph) if outputs is None else None
    head = [node for node in nodes if node.stage == "head"]
    features = head[0].inputs[0] if head and outputs is None else wanted[0]
    stage_modules: dict[str, list[str]] = {}
    for local, part in tree.parts.items():
        if local in model._modules:
            stage = part.members[0].stage if isinstance(part, _Scope) else part.stage
            stage_modules.setdefault(stage, []).append(local)
    model.record({
        "spec_name": graph.name, "spec_hash": graph.spec_hash,
        "feature_info": FeatureInfo(entry for entry in feature_info(graph)
                                    if outputs is None or entry["node"] in wanted),
        "classifier_name": classifier.name if classifier is not None else None,
        "features_node": compiler.top[features].name,
        "stage_modules": stage_modules,
    })
    return model
