"""Transfer learning with a compiled library network, for real, on a CPU, in about a minute.

scikit-learn's handwritten digits (8x8 images shipped inside the package, upsampled to 32x32): resnet18 from
``specs/resnet18.yaml`` is pre-trained on the digits 0-4, then trained on the digits 5-9 from only a few labelled
images per class, three ways on the same budget (data, epochs, optimizer steps):

- from scratch;
- frozen backbone: the pre-trained stages frozen (``build(freeze_until="layer4")``), a new head trained;
- layer-wise learning rates: everything trained, each stage at ``lr * decay ** k`` (``archspec.param_groups``).

Prints test accuracy and training loss per epoch and plots both to ``examples/transfer_learning.png``.
Run: ``python examples/transfer_learning.py`` (needs the ``examples`` extra: scikit-learn and matplotlib).
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch import nn

import archspec

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

HERE = Path(__file__).resolve().parent
SPEC = HERE.parent / "specs" / "resnet18.yaml"
IMAGE_SIZE = 32
PRETRAIN_EPOCHS = 6
FINETUNE_EPOCHS = 20
LABELLED_PER_CLASS = 10
BATCH = 32
LR = 3e-3
# a new head for the new task, given like a spec's own head: dropout before the classifier
HEAD = [{"op": "global_avgpool", "name": "avgpool"}, {"op": "flatten"}, {"op": "dropout", "p": 0.2},
        {"op": "linear", "name": "fc", "out": "$num_classes"}]

Split = tuple[torch.Tensor, torch.Tensor]


def digits(classes: range, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The digits of ``classes`` as 3x32x32 images (shuffled) and labels counted from 0."""
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(data.target)
    keep = (labels >= classes.start) & (labels < classes.stop)
    images = F.interpolate(images[keep], size=IMAGE_SIZE, mode="bilinear", align_corners=False)
    images = ((images - 0.5) / 0.5).expand(-1, 3, -1, -1).contiguous()
    order = torch.randperm(len(images), generator=generator)
    return images[order], labels[keep][order] - classes.start


def split(images: torch.Tensor, labels: torch.Tensor, per_class: int) -> tuple[Split, Split]:
    """The first ``per_class`` images of each class for training, the rest for testing."""
    train = torch.zeros(len(labels), dtype=torch.bool)
    for label in labels.unique():
        train[torch.nonzero(labels == label).flatten()[:per_class]] = True
    return (images[train], labels[train]), (images[~train], labels[~train])


def train(model: nn.Module, optimizer: torch.optim.Optimizer, data: Split, test: Split, epochs: int,
          seed: int) -> list[tuple[float, float]]:
    """Train for ``epochs``; (mean training loss, test accuracy) after each epoch."""
    images, labels = data
    shuffle = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        model.train()
        losses = []
        for batch in torch.randperm(len(images), generator=shuffle).split(BATCH):
            loss = F.cross_entropy(model(images[batch]), labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append((sum(losses) / len(losses), accuracy(model, test)))
    return history


@torch.no_grad()
def accuracy(model: nn.Module, data: Split) -> float:
    """Top-1 accuracy in percent."""
    model.eval()
    images, labels = data
    predicted = torch.cat([model(chunk).argmax(1) for chunk in images.split(256)])
    return 100.0 * (predicted == labels).float().mean().item()


def main(plot_path: Path = HERE / "transfer_learning.png", pretrain_epochs: int = PRETRAIN_EPOCHS,
         finetune_epochs: int = FINETUNE_EPOCHS) -> None:
    """Pre-train, fine-tune three ways, print the table, save the plot."""
    start = time.perf_counter()
    generator = torch.Generator().manual_seed(0)
    spec = archspec.load(SPEC, num_classes=5, image_size=IMAGE_SIZE)

    pretrain_train, pretrain_test = split(*digits(range(0, 5), generator), per_class=145)
    torch.manual_seed(0)
    pretrained = spec.build()
    history = train(pretrained, torch.optim.AdamW(pretrained.parameters(), lr=LR), pretrain_train, pretrain_test,
                    pretrain_epochs, seed=0)
    print(f"pre-trained {spec.name} ({IMAGE_SIZE} px, {spec.analyze().params:,} parameters) on digits 0-4: "
          f"{len(pretrain_train[0])} images, {pretrain_epochs} epochs, test accuracy {history[-1][1]:.1f}% "
          f"on {len(pretrain_test[0])} images ({time.perf_counter() - start:.0f} s)")

    new_task = spec.with_head(HEAD)
    backbone = {name: tensor for name, tensor in pretrained.state_dict().items() if not name.startswith("head.")}
    finetune_train, finetune_test = split(*digits(range(5, 10), generator), per_class=LABELLED_PER_CLASS)
    print(f"digits 5-9: {len(finetune_train[0])} labelled training images ({LABELLED_PER_CLASS} per class), "
          f"{len(finetune_test[0])} test images; {finetune_epochs} epochs of AdamW each, batch {BATCH}\n")

    def fresh(freeze_until: str | None = None, transfer: bool = True) -> nn.Module:
        torch.manual_seed(1)  # the same new head in every run
        model = new_task.build(freeze_until=freeze_until)
        if transfer:
            missing, unexpected = model.load_state_dict(backbone, strict=False)
            assert not unexpected and all(name.startswith("head.") for name in missing)
        return model

    runs: dict[str, list[tuple[float, float]]] = {}
    scratch = fresh(transfer=False)
    runs["from scratch"] = train(scratch, torch.optim.AdamW(archspec.param_groups(scratch, lr=LR)),
                                 finetune_train, finetune_test, finetune_epochs, seed=1)
    frozen = fresh(freeze_until="layer4")
    runs["frozen backbone"] = train(frozen, torch.optim.AdamW(archspec.param_groups(frozen, lr=LR)),
                                    finetune_train, finetune_test, finetune_epochs, seed=1)
    layerwise = fresh()
    groups = archspec.param_groups(layerwise, lr=LR, decay=0.5, weight_decay=1e-2)
    runs["layer-wise lr (decay 0.5)"] = train(layerwise, torch.optim.AdamW(groups), finetune_train, finetune_test,
                                              finetune_epochs, seed=1)

    print("epoch | " + " | ".join(f"{name:>25}" for name in runs))
    print("      | " + " | ".join(f"{'test acc':>12} {'train loss':>12}" for _ in runs))
    for epoch in range(finetune_epochs):
        cells = [f"{runs[name][epoch][1]:>11.1f}% {runs[name][epoch][0]:>12.4f}" for name in runs]
        print(f"{epoch + 1:>5} | " + " | ".join(cells))
    plot(runs, plot_path)
    print(f"\nplot: {plot_path}; total time {time.perf_counter() - start:.0f} s")


def plot(runs: dict[str, list[tuple[float, float]]], path: Path) -> None:
    """Test accuracy and training loss per epoch, one line per run."""
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name, history in runs.items():
        epochs = range(1, len(history) + 1)
        left.plot(epochs, [acc for _, acc in history], marker="o", label=name)
        right.plot(epochs, [loss for loss, _ in history], marker="o", label=name)
    left.set(title="digits 5-9: test accuracy", xlabel="epoch", ylabel="accuracy (%)")
    right.set(title="digits 5-9: training loss", xlabel="epoch", ylabel="cross-entropy", yscale="log")
    for axes in (left, right):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    figure.suptitle(f"resnet18 ({IMAGE_SIZE} px) pre-trained on digits 0-4, {LABELLED_PER_CLASS} labelled images "
                    f"per class of 5-9")
    figure.savefig(path, dpi=120)


if __name__ == "__main__":
    # one thread: this small network gains little from a second one, and when the two cores are also busy with
    # other work, two OpenMP threads spin waiting for each other and the run takes ten times as long
    torch.set_num_threads(1)
    main()
