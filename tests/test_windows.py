"""Window attention and patch merging against torchvision's Swin modules (outputs, parameters, buffers and
FlopCounterMode's count, at maps that need padding, that one window covers (no shift) and that are not square),
and block and grid attention against torchvision's MaxViT partitions."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchvision.models.maxvit import RelativePositionalMultiHeadAttention, WindowDepartition, WindowPartition
from torchvision.models.swin_transformer import (
    PatchMerging,
    PatchMergingV2,
    ShiftedWindowAttention,
    ShiftedWindowAttentionV2,
)

from archspec.backends.weights import transfer_weights
from archspec.ops import OPS
from archspec.ops.base import NoAttrs, ShapeError, Window
from archspec.ops.windows import PartitionAttentionAttrs, WindowAttentionAttrs

ATTENTION = OPS["window_attention"]
PARTITION = OPS["partition_attention"]
MERGE = OPS["patch_merge"]
# (channels, height, width, heads, shift): divisible, padded, one window (shift dropped), not square, odd
CASES = [(32, 14, 14, 2, 3), (32, 8, 20, 4, 3), (16, 7, 7, 2, 3), (16, 3, 5, 1, 0), (16, 9, 16, 2, 3), (8, 1, 1, 1, 3)]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("channels", "height", "width", "heads", "shift"), CASES)
def test_window_attention_equals_torchvision(channels: int, height: int, width: int, heads: int, shift: int,
                                             version: int) -> None:
    """Same output with torchvision's weights (V2's key bias, non-zero here, ignored as torchvision ignores it), and
    its parameters, buffers and FlopCounterMode count (2 x MACs, V2's position-bias MLP included)."""
    attrs = WindowAttentionAttrs(heads=heads, window=7, shift=shift, version=version)
    shape = (channels, height, width)
    assert ATTENTION.infer(attrs, [shape]) == shape
    kind = ShiftedWindowAttention if version == 1 else ShiftedWindowAttentionV2
    reference = kind(channels, [7, 7], [shift, shift], heads).eval()
    with torch.no_grad():
        for tensor in reference.parameters():
            tensor.add_(0.1 * torch.rand_like(tensor))
    module = ATTENTION.module(attrs, [shape], shape).eval()
    module.load_state_dict(reference.state_dict())
    x = torch.randn(2, height, width, channels)
    with torch.no_grad():
        torch.testing.assert_close(module(x), reference(x))
        with FlopCounterMode(display=False) as counter:  # one sample: V2's bias MLP runs once per batch
            reference(x[:1])
    cost = ATTENTION.cost(attrs, [shape], shape)
    assert cost.params == sum(p.numel() for p in reference.parameters())
    assert cost.buffers == sum(b.numel() for b in reference.buffers())
    assert 2 * cost.macs == counter.get_total_flops()


def test_window_attention_macs_by_hand() -> None:
    """Swin-T's first stage: 56x56 positions, C = 96, M = 7: 4 P C^2 + 2 P M^2 C (the paper's Eq. 2)."""
    attrs = WindowAttentionAttrs(heads=3, window=7)
    cost = ATTENTION.cost(attrs, [(96, 56, 56)], (96, 56, 56))
    assert cost.macs == 4 * 56 * 56 * 96 ** 2 + 2 * 49 * 56 * 56 * 96
    assert cost.params == 4 * 96 * 96 + 4 * 96 + 13 * 13 * 3


def test_window_attention_is_local_and_checks_its_attributes() -> None:
    """Windows of M from the shift partition a map (one window covering a 5-position axis, unshifted); heads must
    divide the channels, the shift be < M."""
    rule = ATTENTION.window(WindowAttentionAttrs(heads=1, window=7, shift=3), [(8, 14, 5)])
    assert (rule.kind, rule.kernel, rule.offset) == (Window.PARTITION, (7, 5), (3, 0))
    with pytest.raises(ShapeError, match="heads"):
        ATTENTION.infer(WindowAttentionAttrs(heads=3, window=7), [(8, 14, 14)])
    with pytest.raises(ShapeError, match="shift"):
        ATTENTION.infer(WindowAttentionAttrs(heads=1, window=7, shift=7), [(8, 14, 14)])


@pytest.mark.parametrize(("height", "width"), [(8, 8), (5, 7), (1, 1)])
def test_patch_merge_then_norm_and_linear_equals_torchvision(height: int, width: int) -> None:
    """patch_merge, then LayerNorm and linear 4C -> 2C, is torchvision's PatchMerging (odd sides padded)."""
    channels = 8
    reference = PatchMerging(channels).eval()
    shape = MERGE.infer(NoAttrs(), [(channels, height, width)])
    assert shape == (4 * channels, (height + 1) // 2, (width + 1) // 2)
    x = torch.randn(2, height, width, channels)
    merged = MERGE.module(NoAttrs(), [(channels, height, width)], shape)(x)
    torch.testing.assert_close(reference.reduction(reference.norm(merged)), reference(x))
    assert MERGE.window(NoAttrs(), [(channels, height, width)]).kernel == (2, 2)


@pytest.mark.parametrize(("height", "width"), [(8, 8), (5, 7)])
def test_patch_merge_then_linear_and_norm_equals_torchvision_v2(height: int, width: int) -> None:
    """Swin V2's order, linear 4C -> 2C then LayerNorm, is torchvision's PatchMergingV2."""
    channels = 8
    reference = PatchMergingV2(channels).eval()
    shape = MERGE.infer(NoAttrs(), [(channels, height, width)])
    x = torch.randn(2, height, width, channels)
    merged = MERGE.module(NoAttrs(), [(channels, height, width)], shape)(x)
    torch.testing.assert_close(reference.norm(reference.reduction(merged)), reference(x))


def test_window_attention_v2_needs_a_window_of_two() -> None:
    """V2 scales the offsets by M - 1: a 1x1 window is refused."""
    with pytest.raises(ShapeError, match="at least 2"):
        ATTENTION.infer(WindowAttentionAttrs(heads=1, window=1, version=2), [(8, 4, 4)])


def maxvit_partition_attention(attention: torch.nn.Module, x: torch.Tensor, partition: str, size: int) -> torch.Tensor:
    """torchvision's MaxViT attention on an (N, H, W, C) map, partitioned and departitioned as its
    PartitionAttentionLayer does (``size`` the partition P = G)."""
    height, width = x.shape[1:3]
    p = size if partition == "block" else height // size  # torchvision's partition op takes windows of p
    groups = WindowPartition()(x.permute(0, 3, 1, 2), p)
    if partition == "grid":
        groups = groups.swapaxes(-2, -3)
    out = attention(groups)
    if partition == "grid":
        out = out.swapaxes(-2, -3)
    return WindowDepartition()(out, p, height // p, width // p).permute(0, 2, 3, 1)


# torchvision's grid spaces both axes by H / G, so it is a G x G grid on square maps only (ours spaces each axis)
@pytest.mark.parametrize(("partition", "channels", "height", "width"), [
    ("block", 64, 14, 14), ("block", 32, 21, 14), ("block", 32, 7, 7),
    ("grid", 64, 14, 14), ("grid", 32, 21, 21), ("grid", 32, 7, 7)])
def test_block_and_grid_attention_equal_torchvision_maxvit(partition: str, channels: int, height: int,
                                                           width: int) -> None:
    """partition_attention's block and grid with ``scale: channels`` are torchvision's MaxViT attention (heads of
    32 channels, 7 x 7 partitions): outputs with torchvision's weights, parameters, buffers, FlopCounterMode's
    count."""
    heads = channels // 32
    attrs = PartitionAttentionAttrs(heads=heads, window=7, partition=partition, scale="channels")
    shape = (channels, height, width)
    reference = RelativePositionalMultiHeadAttention(channels, 32, 49).eval()
    with torch.no_grad():
        for tensor in reference.parameters():
            tensor.add_(0.1 * torch.rand_like(tensor))
    assert PARTITION.infer(attrs, [shape]) == shape
    module = PARTITION.module(attrs, [shape], shape).eval()
    transfer_weights(module, reference)  # torchvision keeps the index square, we keep it flat
    x = torch.randn(2, height, width, channels)
    with torch.no_grad():
        expected = maxvit_partition_attention(reference, x, partition, 7)
        torch.testing.assert_close(module(x), expected)
        with FlopCounterMode(display=False) as counter:
            maxvit_partition_attention(reference, x[:1], partition, 7)
    cost = PARTITION.cost(attrs, [shape], shape)
    assert cost.params == sum(p.numel() for p in reference.parameters())
    assert cost.buffers == sum(b.numel() for b in reference.buffers())
    assert 2 * cost.macs == counter.get_total_flops()


def test_blocks_are_local_grids_global_and_both_need_whole_partitions() -> None:
    """A block is a partition of M; a grid spreads over the whole map (a 1x1 grid is each position alone); the map's
    sides must be multiples of M, and heads must divide the channels."""
    block = PARTITION.window(PartitionAttentionAttrs(heads=1, window=7), [(8, 14, 21)])
    assert (block.kind, block.kernel, block.offset) == (Window.PARTITION, (7, 7), (0, 0))
    grid = PartitionAttentionAttrs(heads=1, window=7, partition="grid")
    assert PARTITION.window(grid, [(8, 14, 14)]).kind is Window.GLOBAL
    single = PARTITION.window(PartitionAttentionAttrs(heads=1, window=1, partition="grid"), [(8, 14, 14)])
    assert (single.kind, single.kernel) == (Window.PARTITION, (1, 1))
    with pytest.raises(ShapeError, match="a grid of 7x7 must divide the map's sides, got 14x15"):
        PARTITION.infer(grid, [(8, 14, 15)])
    with pytest.raises(ShapeError, match="heads"):
        PARTITION.infer(PartitionAttentionAttrs(heads=3, window=7), [(8, 14, 14)])
