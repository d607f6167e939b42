"""The IR's shape: the item visitor's paths, networkx on the analysed graph, typed results, the stage records."""

from __future__ import annotations

import networkx as nx
import pytest

import archspec
from archspec.errors import GraphError
from archspec.ir.graph import Graph, Node, PassNotRun
from archspec.ir.verify import verify
from archspec.ops import OPS
from archspec.spec.schema import HeadSpec
from archspec.spec.source import Source
from archspec.spec.visit import ItemWalker, children
from tests.library import load, reference_model

HEAD = """\
head:
  - [{op: conv, out: 8, kernel: 1}, {op: relu}]
  - {seq: [{op: conv, out: 8, kernel: 1}]}
  - {residual: {op: relu}, shortcut: {op: conv, out: 8, kernel: 1}}
  - {repeat: 2, body: {parallel: [{op: relu}, []], merge: add}}
"""


def _head_source() -> Source:
    import yaml

    return Source("<head>", yaml.safe_load(HEAD))


def test_children_give_the_paths_as_written() -> None:
    source = _head_source()
    items = HeadSpec.model_validate(source.data).head
    # a plain YAML list is a sequence whose items sit at the list's own path; ``seq:`` puts them below the key
    assert [c.path for c in children(items[0], ("head", 0), source)] == [("head", 0, 0), ("head", 0, 1)]
    assert [c.path for c in children(items[1], ("head", 1), source)] == [("head", 1, "seq", 0)]
    assert [(c.field, c.path) for c in children(items[2], ("head", 2), source)] == [
        ("residual", ("head", 2, "residual")), ("shortcut", ("head", 2, "shortcut"))]
    (body,) = children(items[3], ("head", 3), source)
    assert body.path == ("head", 3, "body")
    assert [c.path for c in children(body.item, body.path, source)] == [
        ("head", 3, "body", "parallel", 0), ("head", 3, "body", "parallel", 1)]
    # every path the visitor gives names a place that exists in the file
    for item, path in ((items[i], ("head", i)) for i in range(4)):
        stack = [(item, path)]
        while stack:
            item, path = stack.pop()
            assert source.data_at(path) is not None
            stack += [(c.item, c.path) for c in children(item, path, source)]


def test_walker_visits_every_op_once() -> None:
    source = _head_source()
    items = HeadSpec.model_validate(source.data).head

    class Ops(ItemWalker[None]):
        def __init__(self) -> None:
            self.found: list[str] = []

        def visit_op(self, item, path, context) -> None:  # type: ignore[no-untyped-def]
            self.found.append(item.op)

    walker = Ops()
    for item in items:
        walker.visit(item, (), None)
    assert walker.found == ["conv", "relu", "conv", "relu", "conv", "relu"]  # counted by hand from HEAD


def test_the_graph_is_a_networkx_dag() -> None:
    graph = load("resnet18").graph
    digraph = graph.digraph
    assert set(digraph.nodes) == set(graph.nodes)
    assert {(u, v) for u, v in digraph.edges} == {(s, n.name) for n in graph for s in n.inputs}
    assert nx.is_directed_acyclic_graph(digraph)
    for name in ("layer2.0.add", "fc", "input"):
        assert graph.ancestors(name) == nx.ancestors(digraph, name) | {name}
    # ResNet-18's deepest path, counted in torchvision's terms: conv1, bn1, relu, maxpool, then per basic block
    # conv, bn, relu, conv, bn, add, relu (7) x 8 blocks, then avgpool, flatten, fc; plus the input itself
    assert nx.dag_longest_path_length(digraph) == 4 + 7 * 8 + 3


def test_verify_names_a_cycle() -> None:
    graph = Graph("loop")
    graph.add(Node("input", None, None, [], "input", None, None, shape=(3, 4, 4)))
    graph.add(Node("a", OPS["add"], OPS["add"].Attrs(), ["b", "input"], "s", None, None, shape=(3, 4, 4)))
    graph.add(Node("b", OPS["relu"], None, ["a"], "s", None, None, shape=(3, 4, 4)))
    graph.outputs = ["b"]
    with pytest.raises(GraphError, match=r"'a' depends on itself: a -> b -> a"):
        verify(graph)


def test_results_read_before_their_pass_fail_clearly() -> None:
    node = Node("x", OPS["relu"], None, ["input"], "s", None, None, shape=(3, 4, 4))
    with pytest.raises(PassNotRun, match="costs not analysed"):
        _ = node.cost
    with pytest.raises(PassNotRun, match="receptive field not analysed"):
        _ = node.rf
    with pytest.raises(PassNotRun, match="activation memory"):
        _ = Graph("g").memory


def test_stage_records_are_the_rows_as_written() -> None:
    graph = load("efficientnet_b0").graph
    rows = graph.rows
    spec = load("efficientnet_b0").network
    assert [stage.row for stage in rows] == list(range(len(spec.stages)))
    first = rows[0]
    # Table 1 of the EfficientNet paper, stage 2: MBConv1, k3x3, 112x112 input, 16 channels, 1 layer
    assert (first.block, first.is_block, first.input_shape) == ("mbconv", True, (32, 112, 112))
    assert first.values["t"] == 1 and first.values["k"] == 3 and first.values["c"] == 16 and first.repeats == 1
    assert [*graph.stages][::len(graph.stages) - 1] == ["stem", "head"]


def test_compiled_module_records_its_spec() -> None:
    spec = load("resnet18")
    model = spec.build()
    assert (model.spec_name, model.spec_hash) == ("resnet18", spec.content_hash)
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in reference_model(spec).parameters())


def test_api_stages_until_keeps_network_order() -> None:
    spec = archspec.load(load("resnet18").source.file)
    assert spec.stages_until("layer2") == ["stem", "layer1", "layer2"]


FUNCTIONS = {  # torch's own functions, named independently of archspec's table
    "relu": "relu", "relu6": "relu6", "silu": "silu", "swish": "silu", "hardswish": "hardswish",
    "hardsigmoid": "hardsigmoid", "gelu": "gelu", "sigmoid": "sigmoid", "tanh": "tanh", "leaky_relu": "leaky_relu",
}


@pytest.mark.parametrize("name", [*FUNCTIONS, "identity"])
def test_every_activation_choice_computes_torch_s_function(name: str) -> None:
    import torch
    import torch.nn.functional as F

    x = torch.linspace(-4, 4, 33)
    expected = x if name == "identity" else getattr(F, FUNCTIONS[name])(x)
    for op, attrs in ((OPS["activation"], {"fn": name}), (OPS[name], {}) if name in OPS else (None, None)):
        if op is None:
            continue
        module = op.module(op.Attrs.model_validate(attrs), [(33,)], (33,))
        assert torch.equal(module(x), expected), (op.name, name)
    # squeeze-excitation takes the same choices for its bottleneck and its gate
    se = OPS["squeeze_excite"]
    module = se.module(se.Attrs.model_validate({"squeeze": 2, "activation": name, "gate": name}), [(4, 3, 3)],
                       (4, 3, 3))
    assert torch.equal(module.activation(x), expected) and torch.equal(module.gate(x), expected)
