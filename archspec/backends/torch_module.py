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
from archspec.ops.base import Family, Layout


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


# the dimension orders turning a channels-first (N, C, H, W) map into a channels-last one, and back
_TO_LAST, _TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)


@dataclass
class _Values:
    """A forward's values by IR node name; a (C, H, W) map may be held channels-first, channels-last or both,
    each made once, when first needed (one permute where torchvision's code has one)."""

    code: fx.Graph
    graph: Graph
    first: dict[str, fx.Node] = field(default_factory=dict)
    last: dict[str, fx.Node] = field(default_factory=dict)

    def is_map(self, name: str) -> bool:
        return len(self.graph[name].shape) == 3

    def put(self, name: str, value: fx.Node, layout: Layout) -> None:
        (self.last if layout is Layout.LAST and self.is_map(name) else self.first)[name] = value

    def held(self, name: str) -> Layout:
        """The layout a value is held in (channels-first when both)."""
        return Layout.FIRST if name in self.first else Layout.LAST

    def get(self, name: str, layout: Layout) -> fx.Node:
        """The value in ``layout`` (a value that is not a map has one layout)."""
        if layout is Layout.FIRST or not self.is_map(name):
            table, other, order = self.first, self.last, _TO_FIRST
        else:
            table, other, order = self.last, self.first, _TO_LAST
        if name not in table:
            table[name] = self.code.call_method("permute", (other[name], *order))
        return table[name]


@dataclass
class _Compiler:
    """Emits one GraphModule per scope; each reads the values made outside it and returns those used outside."""

    graph: Graph
    wanted: list[str]
    overwrites: dict[str, str]
    users: dict[str, set[str]]
    listed: bool = False  # the network returns a list (of feature maps), however many
    # the network's own forward: value per node name, channels-first where it holds both
    top: dict[str, fx.Node] = field(default_factory=dict)
    channels_last: set[str] = field(default_factory=set)  # the nodes whose module takes channels-last maps

    def __post_init__(self) -> None:
        for node in self.graph:
            if node.op is not None and node.inputs and len(self.graph[node.inputs[0]].shape) == 3 \
                    and node.op.layout(node.attrs, self.shapes(node)) is Layout.LAST:
                self.channels_last.add(node.name)

    def shapes(self, node: Node) -> list[tuple[int, ...]]:
        return [self.graph[name].shape for name in node.inputs]

    def interface(self, scope: _Scope) -> tuple[list[str], list[str]]:
        """The values a scope reads from outside (in order of first read) and those read outside it."""
        inside = {node.name for node in scope.members}
        inputs = list(dict.fromkeys(source for node in scope.members for source in node.inputs
                                    if source not in inside))
        outputs = [node.name for node in scope.members
                   if node.name in self.wanted or not self.users[node.name] <= inside]
        return inputs, outputs

    def emit(self, scope: _Scope, inputs: list[tuple[str, Layout]], outputs: list[str], cls: type[fx.GraphModule],
             class_name: str) -> tuple[fx.GraphModule, list[Layout]]:
        """The scope's module, given the layout each input comes in, and the layout each output leaves in."""
        code = fx.Graph()
        values = _Values(code, self.graph)
        for index, (source, layout) in enumerate(inputs):
            values.put(source, code.placeholder("x" if len(inputs) == 1 else f"x{index}"), layout)
        inside = {node.name for node in scope.members}
        children: dict[str, nn.Module | nn.Parameter] = {}
        for local, part in scope.parts.items():
            if isinstance(part, _Scope):
                part_inputs, part_outputs = self.interface(part)
                passed = [(source, values.held(source)) for source in part_inputs]
                children[local], layouts = self.emit(part, passed, part_outputs, Scope, self.scope_class(part))
                result = code.call_module(local, tuple(values.get(*given) for given in passed))
                for index, (name, layout) in enumerate(zip(part_outputs, layouts, strict=True)):
                    values.put(name, result if len(part_outputs) == 1 else
                               code.call_function(operator.getitem, (result, index)), layout)
            else:
                in_place = self.overwrites.get(part.name) in inside
                statement, layout = self.node(code, part, local, values, children, in_place)
                statement.meta["node"] = part.name  # which IR node the statement computes
                statement.meta["layout"] = layout
                values.put(part.name, statement, layout)
        layouts = [Layout.FIRST if not scope.prefix else values.held(name) for name in outputs]
        results = [values.get(name, layout) for name, layout in zip(outputs, layouts, strict=True)]
        if not scope.prefix:
            self.top = {**values.last, **values.first}  # a map held channels-last only (Swin's) is there too
            if self.listed:
                results = [code.call_function(list, (tuple(results),))]
        code.output(results[0] if len(results) == 1 else tuple(results))
        root = nn.Module()
        for local, child in children.items():  # registered in graph order, which is the state dict's order
            if isinstance(child, nn.Parameter):
                root.register_parameter(local, child)
            else:
                root.add_module(local, child)
        return cls(root, code, class_name=class_name), layouts

    def layout(self, node: Node, values: _Values) -> tuple[Layout, bool]:
        """The layout a node is computed in, and whether its channels-first module is used: an element-wise op
        follows its inputs; a channels-last op between channels-first ones uses its channels-first module (as
        torchvision's LayerNorm2d) where it has one."""
        maps = [name for name in node.inputs if values.is_map(name)]
        if not maps or node.name not in self.channels_last:
            assert node.op is not None
            either = node.op.layout(node.attrs, self.shapes(node)) is Layout.EITHER
            last = either and bool(maps) and all(name not in values.first for name in maps)
            return (Layout.LAST if last else Layout.FIRST), False
        if any(name in values.last for name in maps) or self.users[node.name] & self.channels_last:
            return Layout.LAST, False
        assert node.op is not None
        return Layout.FIRST, True

    def node(self, code: fx.Graph, node: Node, local: str, values: _Values,
             children: dict[str, nn.Module | nn.Parameter], in_place: bool) -> tuple[fx.Node, Layout]:
        """One node's statement and the layout of its result. It overwrites an input (``in_place``) only when that
        input was made inside the module, so that calling a module on its own never changes the caller's tensor."""
        assert node.op is not None
        shapes = self.shapes(node)
        layout, first_form = self.layout(node, values)
        args = tuple(values.get(name, layout) for name in node.inputs)
        module = None
        if not node.functional:
            module = node.op.first_module(node.attrs, shapes, node.shape) if first_form else None
            module = module or node.op.module(node.attrs, shapes, node.shape)
        if module is not None:
            if in_place and hasattr(module, "inplace"):
                setattr(module, "inplace", True)  # noqa: B010  (as hand-written networks do: one buffer fewer)
            children[local] = module
            call_args, kwargs, pick = node.op.call(args)
            result = code.call_module(local, call_args, kwargs)
            return (result if pick is None else code.call_function(operator.getitem, (result, pick))), layout
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
            return code.call_function(operator.iadd, (values.get(fresh, layout), values.get(other, layout))), layout
        return code.call_function(function, args, kwargs), layout

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
    compiled, _ = compiler.emit(tree, [(graph.input, Layout.FIRST)], wanted, Network, _class_name(graph.name))
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
    model.remember(graph)
    return model
