"""Hypothesis strategies: valid generated specs, and mutations of them that make them invalid."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

BLOCKS: dict[str, Any] = {
    "unit": {
        "doc": "conv (grouped or depthwise), BN, activation",
        "params": {"c": None, "k": 3, "stride": 1, "groups": 1, "dilation": 1, "act": "relu"},
        "channel_params": ["c"],
        "body": [
            {"op": "conv", "out": "$c", "kernel": "$k", "stride": "$stride", "groups": "$groups",
             "dilation": "$dilation", "bias": False},
            {"op": "batchnorm"},
            {"op": "activation", "fn": "$act"},
        ],
    },
    "res": {
        "doc": "residual pair of 3x3 convs with a projection when the shape changes",
        "params": {"c": None, "stride": 1},
        "channel_params": ["c"],
        "body": {
            "residual": [{"op": "conv", "out": "$c", "kernel": 3, "stride": "$stride"}, {"op": "relu"},
                         {"op": "conv", "out": "$c", "kernel": 3}],
            "shortcut": {"when": "$stride != 1 or in_channels != c",
                         "seq": [{"op": "conv", "out": "$c", "kernel": 1, "stride": "$stride"}]},
        },
    },
    "mix": {
        "doc": "inception-like branches concatenated, then squeeze-excitation",
        "params": {"a": None, "b": None, "se": 0},
        "channel_params": ["a", "b"],
        "body": [
            {"parallel": [{"op": "conv", "out": "$a", "kernel": 1},
                          [{"op": "conv", "out": "$b", "kernel": 3, "dilation": 2}],
                          [{"op": "maxpool", "kernel": 3, "stride": 1, "padding": 1}]],
             "merge": "concat"},
            {"op": "squeeze_excite", "squeeze": "$max(1, in_channels // 4)", "when": "$se == 1"},
        ],
    },
    "dense": {
        "doc": "dense layer: concatenate the input with new features",
        "params": {"growth": None},
        "channel_params": ["growth"],
        "body": {"parallel": [[], [{"op": "batchnorm"}, {"op": "relu"},
                                   {"op": "conv", "out": "$growth", "kernel": 3, "bias": False}]],
                 "merge": "concat"},
    },
    "encoder": {
        "doc": "pre-norm transformer layer over tokens",
        "params": {"heads": None, "mlp": None},
        "channel_params": ["mlp"],
        "body": [
            {"residual": [{"op": "layernorm"}, {"op": "self_attention", "heads": "$heads"}]},
            {"residual": [{"op": "layernorm"}, {"op": "linear", "out": "$mlp"}, {"op": "gelu"},
                          {"op": "linear", "out": "$in_dim"}]},
        ],
    },
}


@st.composite
def conv_rows(draw: st.DrawFn) -> dict[str, Any]:
    """A stage row of a convolutional network."""
    kind = draw(st.sampled_from(["unit", "depthwise", "res", "mix", "dense", "maxpool", "avgpool"]))
    if kind in ("unit", "depthwise"):
        groups = draw(st.sampled_from([1, 2]))
        row = {"block": "unit", "c": 2 * draw(st.integers(1, 8)), "k": draw(st.sampled_from([1, 3, 5])),
               "groups": groups, "dilation": draw(st.sampled_from([1, 2])), "n": draw(st.integers(1, 2)),
               "s": draw(st.sampled_from([1, 2])), "act": draw(st.sampled_from(["relu", "silu", "hardswish"]))}
        if kind == "depthwise":  # groups = channels: only valid when the row keeps the channel count
            row |= {"c": "$depthwise_channels", "groups": "$depthwise_channels", "n": 1}
        return row
    if kind == "res":
        return {"block": "res", "c": draw(st.integers(2, 12)), "n": draw(st.integers(1, 2)),
                "s": draw(st.sampled_from([1, 2]))}
    if kind == "mix":
        return {"block": "mix", "a": draw(st.integers(1, 6)), "b": draw(st.integers(1, 6)),
                "se": draw(st.integers(0, 1))}
    if kind == "dense":
        return {"block": "dense", "growth": draw(st.integers(1, 6)), "n": draw(st.integers(1, 3))}
    return {"block": kind, "kernel": draw(st.sampled_from([2, 3])), "s": 2, "ceil_mode": draw(st.booleans()),
            "padding": draw(st.sampled_from([0, 1]))}


@st.composite
def conv_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid-by-construction-or-located-error convolutional spec."""
    rows = draw(st.lists(conv_rows(), min_size=1, max_size=4))
    stem_channels = 2 * draw(st.integers(1, 4))
    for i, row in enumerate(rows):
        row["name"] = f"s{i}"
    return {
        "name": "generated",
        "input": {"channels": draw(st.integers(1, 4)), "resolution": draw(st.integers(16, 48))},
        "variables": {"num_classes": draw(st.integers(1, 10)), "depthwise_channels": stem_channels},
        "blocks": BLOCKS,
        "stem": [{"op": "conv", "out": stem_channels, "kernel": 3, "stride": draw(st.sampled_from([1, 2])),
                  "padding": draw(st.sampled_from(["auto", "same", 0]))}],
        "stages": rows,
        "head": [{"op": "global_avgpool"}, {"op": "flatten"}, {"op": "linear", "out": "$num_classes"}],
    }


@st.composite
def token_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A small vision transformer."""
    heads = draw(st.sampled_from([1, 2, 4]))
    patch = draw(st.sampled_from([4, 8]))
    return {
        "name": "generated_vit",
        "input": {"channels": 3, "resolution": patch * draw(st.integers(1, 4))},
        "variables": {"num_classes": draw(st.integers(1, 10))},
        "blocks": BLOCKS,
        "stem": [{"op": "patch_embed", "dim": heads * 4 * draw(st.integers(1, 3)), "patch": patch},
                 {"op": "class_token"}, {"op": "pos_embedding"}],
        "stages": [{"name": "encoder", "block": "encoder", "heads": heads, "mlp": draw(st.integers(4, 32)),
                    "n": draw(st.integers(1, 3))}],
        "head": [{"op": "layernorm"}, {"op": "select_token"}, {"op": "linear", "out": "$num_classes"}],
    }


def specs() -> st.SearchStrategy[dict[str, Any]]:
    """Any generated spec."""
    return st.one_of(conv_specs(), token_specs())


BAD_VALUES = [0, -1, -7, 10**12, 2.5, "nonsense", "$undefined_name", "$1 +", "$'a' * 99999999", None, True, [],
              [1, 2, 3], {"x": 1}, "$in_channels // 0", "$2 ** 10000", 1e308]


def _paths(data: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            out += _paths(value, (*prefix, i))
    return out


def _parent(data: Any, path: tuple) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated_specs(draw: st.DrawFn) -> dict[str, Any]:
    """A generated spec with one hostile change: a wrong value, a missing or unknown field, an unknown op or
    block, a block cycle, a duplicate name, or a resolution too small for its kernels."""
    data = copy.deepcopy(draw(specs()))
    mutation = draw(st.sampled_from(["value", "delete", "unknown_key", "unknown_op", "cycle", "duplicate",
                                     "tiny_input"]))
    paths = _paths(data)
    if mutation == "value":
        path = draw(st.sampled_from(paths))
        _parent(data, path)[path[-1]] = draw(st.sampled_from(BAD_VALUES))
    elif mutation == "delete":
        path = draw(st.sampled_from([p for p in paths if isinstance(p[-1], str)]))
        del _parent(data, path)[path[-1]]
    elif mutation == "unknown_key":
        path = draw(st.sampled_from([p for p in paths if isinstance(_parent(data, p), dict)]))
        _parent(data, path)["surprise_field"] = 1
    elif mutation == "unknown_op":
        data["head"].insert(0, {"op": draw(st.sampled_from(["convolution", "relu7", "block"]))})
    elif mutation == "cycle":
        data["blocks"] = {**data["blocks"], "loop_a": {"doc": "a", "body": {"block": "loop_b"}},
                          "loop_b": {"doc": "b", "body": [{"op": "relu"}, {"block": "loop_a"}]}}
        data["head"].insert(0, {"block": "loop_a"})
    elif mutation == "duplicate":
        data["stem"] = [{**data["stem"][0], "name": "same"}, {"op": "relu", "name": "same"}]
    else:
        data["input"]["resolution"] = draw(st.integers(1, 3))
    return data
