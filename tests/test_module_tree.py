"""The compiled network as a PyTorch citizen: a module tree that mirrors the spec, idioms people write against
torchvision's networks, timm's model interface, and hook-based counters that see the same modules.

References are torchvision's modules and the networks' own forward pass, never our own figures.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from torch import nn
from torchvision.models.feature_extraction import create_feature_extractor

import archspec
from tests.library import SPECS, load, reference_model


def small(name: str) -> tuple[archspec.Spec, nn.Module, torch.Tensor]:
    """A library network at a small input, compiled in eval mode, with an input batch of two."""
    spec = load(name)
    size = 32
    spec = spec.with_overrides(image_size=size, num_classes=10)
    torch.manual_seed(0)
    model = spec.build().eval()
    return spec, model, torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))


NETWORKS = ["resnet18", "densenet121", "efficientnet_b0", "mobilenet_v3_large", "vit_b_16"]
# those whose head is all modules; densenet121's computes its last ReLU and pooling in the forward, as torchvision's
CHAINS = ["resnet18", "efficientnet_b0", "mobilenet_v3_large", "vit_b_16"]


@pytest.mark.parametrize("name", NETWORKS)
def test_each_stage_runs_on_the_previous_output_and_together_they_are_the_network(name: str) -> None:
    """The stem and each row are modules, the head is ``forward_head``; composed, they are the network."""
    spec, model, x = small(name)
    stages = [stage.name for stage in spec.graph.stages.values() if stage.name != "head"]
    assert list(dict(model.named_children()))[: len(stages)] == stages  # the stem and the rows, in order
    with torch.no_grad():
        y = x
        for stage in stages:
            y = getattr(model, stage)(y)
        assert torch.equal(model.forward_features(x), y)
        assert torch.equal(model.forward_head(y), model(x))


@pytest.mark.parametrize("name", CHAINS)
def test_on_a_chain_the_children_compose_and_sequential_gives_the_pooled_features(name: str) -> None:
    _, model, x = small(name)
    with torch.no_grad():
        y = x
        for child in model.children():
            y = child(y)
        assert torch.equal(y, model(x))
        pooled = nn.Sequential(*list(model.children())[:-1])(x)  # the transfer-learning idiom
        classifier = list(model.children())[-1]
        assert torch.equal(classifier(pooled), model(x))
    assert pooled.shape[0] == 2 and pooled.ndim == 2  # the pooled (and flattened) features


def test_blocks_are_callable_hookable_and_indexable_like_sequential() -> None:
    _, model, x = small("resnet18")
    seen: list[tuple[int, ...]] = []
    model.layer3[1].register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    with torch.no_grad():
        inner = model.layer2(model.layer1(model.stem(x)))
        block = model.layer3[0](inner)
        assert torch.equal(model.layer3[1](block), model.layer3(inner))
    assert seen == [(2, 256, 2, 2)] * 2
    assert len(model.layer3) == 2 and [type(b).__name__ for b in model.layer3] == ["Basic", "Basic"]
    assert isinstance(model.layer3[0].conv1, nn.Conv2d) and type(model.layer3[0].conv1) is nn.Conv2d


def test_calling_a_block_on_its_own_leaves_its_input_unchanged() -> None:
    """In-place ops overwrite only tensors made inside the module (the caller's stays as it was)."""
    _, model, x = small("resnet18")
    with torch.no_grad():
        for name, module in model.named_modules():
            if isinstance(module, torch.fx.GraphModule) and name.count(".") == 1:  # each block instance
                probe = model.stem(x) if name.startswith("layer1") else None
                if probe is None:
                    continue
                before = probe.clone()
                module(probe)
                assert torch.equal(probe, before), name


def test_the_classifier_swaps_by_attribute_as_on_torchvision() -> None:
    for name, attribute in (("resnet18", "fc"), ("densenet121", "classifier")):
        _, model, x = small(name)
        layer = getattr(model, attribute)
        setattr(model, attribute, nn.Linear(layer.in_features, 2))
        assert model(x).shape == (2, 2)
    _, model, x = small("efficientnet_b0")  # torchvision's Sequential(Dropout, Linear)
    model.classifier[1] = nn.Linear(model.classifier[1].in_features, 3)
    assert model(x).shape == (2, 3)


def test_torchvision_feature_extractor_takes_the_spec_names() -> None:
    _, model, x = small("resnet18")
    extractor = create_feature_extractor(model, return_nodes={"layer2": "mid", "layer4.1.relu2": "last"})
    with torch.no_grad():
        out = extractor(x)
        assert torch.equal(out["mid"], model.layer2(model.layer1(model.stem(x))))
    assert out["last"].shape == (2, 512, 1, 1)


def test_features_only_and_feature_info_agree_with_a_forward_pass() -> None:
    """feature_info comes from the IR; the feature maps' real shapes must match it, and torchvision's ResNet
    gives the same maps after its layers."""
    spec = load("resnet50")
    model = archspec.create_model("resnet50", image_size=64, features_only=True).eval()
    reference = reference_model(spec).eval()
    archspec.transfer_weights(model, {k: v for k, v in reference.state_dict().items() if not k.startswith("fc.")})
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        maps = model(x)
        theirs = create_feature_extractor(reference, ["maxpool", "layer1", "layer2", "layer3", "layer4"])(x)
    info = model.feature_info
    assert info.module_name() == ["stem", "layer1", "layer2", "layer3", "layer4"]
    assert info.channels() == [64, 256, 512, 1024, 2048] and info.reduction() == [4, 4, 8, 16, 32]
    for ours, (_, map_) in zip(maps, theirs.items(), strict=True):
        assert ours.shape[1] == map_.shape[1] and 64 // ours.shape[-1] in info.reduction()
        torch.testing.assert_close(ours, map_)
    picked = archspec.create_model("resnet50", image_size=64, out_indices=[-1]).eval()
    picked.load_state_dict(model.state_dict())  # the last map needs every tensor the five do
    with torch.no_grad():
        last = picked(x)
    assert isinstance(last, list) and len(last) == 1
    torch.testing.assert_close(last[0], maps[-1])


def test_forward_features_and_reset_classifier_as_timm() -> None:
    for name, features in (("resnet18", (2, 512, 1, 1)), ("vit_b_16", (2, 5, 768))):
        _, model, x = small(name)
        with torch.no_grad():
            assert tuple(model.forward_features(x).shape) == features
        model.reset_classifier(4)
        assert model(x).shape == (2, 4)
        model.reset_classifier(0)
        assert model(x).shape == (2, features[-1] if name == "vit_b_16" else 512)


def test_copies_and_pickles_keep_the_class_the_tree_and_the_interface() -> None:
    _, model, x = small("resnet18")
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for other in (copy.deepcopy(model), torch.load(buffer, weights_only=False), pickle.loads(pickle.dumps(model))):
        assert type(other).__name__ == type(model).__name__ == "Resnet18"
        assert other.spec_hash == model.spec_hash and other.feature_info == model.feature_info
        with torch.no_grad():
            assert torch.equal(other(x), model(x))
            assert torch.equal(other.forward_features(x), model.forward_features(x))
        assert torch.equal(other.layer1[0](model.stem(x)), model.layer1[0](model.stem(x)))


def test_a_functional_op_is_a_call_in_its_scope_not_a_child(tmp_path) -> None:
    """``functional: true`` computes an activation or pool in the enclosing forward (F.relu, F.max_pool2d), with
    the same result; an op that has parameters has no function form, a located error."""
    from tests.library import library_copy

    text = ((SPECS / "resnet18.yaml").read_text()
            .replace("{op: relu, name: relu}", "{op: relu, name: relu, functional: true}")
            .replace("padding: 1}", "padding: 1, functional: true}"))
    assert text.count("functional: true") == 2
    spec = archspec.load(library_copy(tmp_path, "resnet18f", text)).with_overrides(image_size=32)
    plain = load("resnet18").with_overrides(image_size=32)
    model, reference = spec.build().eval(), plain.build().eval()
    reference.load_state_dict(model.state_dict())
    assert [name for name, _ in model.stem.named_children()] == ["conv1", "bn1"]
    assert "torch.nn.functional.relu" in model.stem.code and "max_pool2d" in model.stem.code
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(x), reference(x))
    assert spec.analyze().macs == plain.analyze().macs
    bad = library_copy(tmp_path, "bad", text.replace("name: bn1}", "name: bn1, functional: true}"))
    with pytest.raises(archspec.SpecError, match=r"bad\.yaml:\d+:\d+: stem\[1\]\.functional: op 'batchnorm' has "):
        archspec.load(bad).graph  # noqa: B018
