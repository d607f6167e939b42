"""The compiled network's class: a GraphModule with timm's model interface (features, classifier) read off the IR."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import fx, nn
from torch.fx.graph_module import _USER_PRESERVED_ATTRIBUTES_KEY

from archspec.ir.graph import Graph, Node
from archspec.ops.base import Family


class FeatureInfo(list[dict[str, Any]]):
    """Where the feature maps are, as timm's ``feature_info``: per stage end, ``num_chs``, ``reduction`` (the
    effective stride) and ``module`` (the module whose output it is), as dicts, with timm's accessors."""

    def channels(self) -> list[int]:
        """Channels of each feature map."""
        return [entry["num_chs"] for entry in self]

    def reduction(self) -> list[int]:
        """Effective stride of each feature map."""
        return [entry["reduction"] for entry in self]

    def module_name(self) -> list[str]:
        """The module each feature map is the output of."""
        return [entry["module"] for entry in self]


def feature_info(graph: Graph) -> FeatureInfo:
    """The feature map at the end of the stem and of each row (side rows and token sequences left out)."""
    by_scope: dict[str, list[Node]] = {}  # a stage's nodes are those its name prefixes: one pass, not one per stage
    for node in graph:
        by_scope.setdefault(node.name.split(".", 1)[0], []).append(node)
    entries = FeatureInfo()
    for stage in graph.stages.values():
        if stage.name == "head" or stage.name not in by_scope:
            continue
        end = graph.scope_output(by_scope[stage.name])
        if end is None or len(end.shape) != 3 or end.name in graph.outputs[1:]:
            continue
        entries.append({"num_chs": end.shape[0], "reduction": end.rf.stride[0], "module": stage.name,
                        "stage": stage.name, "node": end.name})
    return entries


def classifier_of(graph: Graph) -> Node | None:
    """The head's last linear or convolution on the way to the main output: what ``reset_classifier`` replaces."""
    node = graph.output
    while node.op is not None and node.stage == "head":
        if node.op.family in (Family.LINEAR, Family.CONV):
            return node
        if len(node.inputs) != 1:
            return None
        node = graph[node.inputs[0]]
    return None


class Scope(fx.GraphModule):
    """One scope of the tree (a stage, a block instance, a named sequence) with generated forward code; its
    children index like ``nn.Sequential``'s (``model.layer3[2]``)."""

    def __getitem__(self, index: int) -> nn.Module:
        return list(self.children())[index]

    def __setitem__(self, index: int, module: nn.Module) -> None:
        setattr(self, list(self._modules)[index], module)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[nn.Module]:
        return iter(list(self.children()))

    def __str__(self) -> str:  # the module tree, as any module prints (GraphModule's adds its generated code)
        return nn.Module.__repr__(self)

    def __bool__(self) -> bool:  # a module is true even without children, as modules without __len__ are
        return True

    def __reduce__(self) -> tuple[Any, ...]:
        # GraphModule's own would restore a plain GraphModule
        restore, arguments = super().__reduce__()
        facts = dict(self.meta.get(_USER_PRESERVED_ATTRIBUTES_KEY, {}))
        return (_restore, (restore, arguments, type(self).__mro__[1], type(self).__name__, facts))

    def _deepcopy_init(self) -> Callable[..., None]:
        # GraphModule's would name the copy's class ``GraphModule``
        name = type(self).__name__
        return lambda module, root, graph: fx.GraphModule.__init__(module, root, graph, class_name=name)


# forward_features's and forward_head's generated code, per network (made on first use; a weak key, so it goes
# with the network)
_PARTS: weakref.WeakKeyDictionary[nn.Module, dict[str, Callable[..., Any]]] = weakref.WeakKeyDictionary()


# the IR each network was compiled from, for archspec.summary(model): beside it, not in it, since a pickle or a
# copy of the module should not carry the graph (copies find their library spec by name and hash instead)
_GRAPHS: weakref.WeakKeyDictionary[nn.Module, Graph] = weakref.WeakKeyDictionary()


def compiled_from(model: object) -> Graph | None:
    """The analysed graph ``model`` was compiled from, if it is a network compiled in this process (not a copy)."""
    return _GRAPHS.get(model) if isinstance(model, nn.Module) else None


class Network(Scope):
    """A compiled network: a module tree mirroring the spec, with generated forward code and timm's interface.

    It records the spec it was compiled from (``spec_name``, ``spec_hash``: ``save_weights`` and ``load_weights``
    check them), ``feature_info``, the classifier's module name, and which of its children make each stage of
    the spec (``stage_modules``); they survive ``copy.deepcopy`` and ``torch.save`` / ``torch.load``.
    """

    spec_name: str
    spec_hash: str
    feature_info: FeatureInfo
    classifier_name: str | None
    features_node: str
    stage_modules: dict[str, list[str]]

    def remember(self, graph: Graph) -> None:
        """Keep the graph the network was compiled from (see ``compiled_from``)."""
        _GRAPHS[self] = graph

    def record(self, facts: dict[str, Any]) -> None:
        """Set the recorded facts as attributes that copies keep."""
        for attribute, value in facts.items():
            setattr(self, attribute, value)
        # GraphModule's deepcopy rebuilds the module and keeps only the attributes listed here
        self.meta[_USER_PRESERVED_ATTRIBUTES_KEY] = dict(facts)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's output, the head's input (timm's ``forward_features``)."""
        return self._part("features", None, self.features_node)(self, x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        """The head on the last stage's output, computed as the network does (its items and the ops its forward
        computes): ``forward_head(forward_features(x))`` is ``forward(x)``, as timm's."""
        end = next(node for node in self.graph.nodes if node.op == "output").args[0]
        if not isinstance(end, fx.Node):  # several outputs: the side heads read earlier stages
            raise RuntimeError(f"{self.spec_name} has side outputs, which need more than the last stage's output")
        return self._part("head", self.features_node, end.name)(self, x)

    def _part(self, key: str, start: str | None, end: str) -> Callable[..., Any]:
        """The generated code of the forward's part from ``start`` (None: the input) to ``end``, made once."""
        parts = _PARTS.setdefault(self, {})
        if key not in parts:
            parts[key] = self._generate(start, end)
        return parts[key]

    def _generate(self, start: str | None, last: str) -> Callable[..., Any]:
        nodes = {node.name: node for node in self.graph.nodes}
        end = nodes[last]
        begin = nodes[start] if start is not None else next(n for n in self.graph.nodes if n.op == "placeholder")
        needed, stack = {end}, [end] if end is not begin else []
        while stack:  # what ``end`` depends on, back to ``begin``
            for source in stack.pop().all_input_nodes:
                if source is not begin and source not in needed:
                    if source.op == "placeholder":
                        raise RuntimeError(f"{self.spec_name}: its head reads more than the last stage's output")
                    needed.add(source)
                    stack.append(source)
        code = fx.Graph()
        copied: dict[fx.Node, fx.Node] = {begin: code.placeholder("x")}
        for node in self.graph.nodes:
            if node in needed and node is not begin:
                copied[node] = code.node_copy(node, lambda value: copied[value])
        code.output(copied[end])
        python = code.python_code("self")
        namespace = dict(python.globals)
        exec(python.src, namespace)
        return namespace["forward"]

    def get_classifier(self) -> nn.Module:
        """The classifier module (timm's ``get_classifier``)."""
        if self.classifier_name is None:
            raise AttributeError(f"{self.spec_name} has no classifier (no linear or convolution ends its head)")
        return self.get_submodule(self.classifier_name)

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the classifier by a fresh one with ``num_classes`` outputs (0: none, the features pass through)."""
        old = self.get_classifier()
        if num_classes == 0:
            new: nn.Module = nn.Identity()
        elif isinstance(old, nn.Linear):
            new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        elif isinstance(old, nn.Conv2d):
            new = nn.Conv2d(old.in_channels, num_classes, 1, bias=old.bias is not None)  # a 1x1 classifier
        else:
            raise TypeError(f"cannot reset a classifier of type {type(old).__name__}")
        parent_name, _, leaf = self.classifier_name.rpartition(".") if self.classifier_name else ("", "", "")
        parent = self.get_submodule(parent_name)
        setattr(parent, leaf, new.to(next(old.parameters()).device))


def _restore(restore: Callable[..., fx.GraphModule], arguments: tuple[Any, ...], cls: type[Scope],
             class_name: str, facts: dict[str, Any]) -> Scope:
    """Unpickle a Scope or Network: GraphModule's own restore, as that class again, with its recorded facts."""
    module = restore(*arguments)
    restored = cls(module, module.graph, class_name=class_name)
    if isinstance(restored, Network):
        restored.record(facts)
    return restored
