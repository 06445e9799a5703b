"""An image task where one training stage teaches a shortcut: digits with a bright corner patch.

The images are scikit-learn's bundled handwritten digits (1,797 images of 8x8 pixels, offline). The
task: is the digit 5 or more? Three stages train a small CNN:

``pretraining``
    clean digits;
``shortcut``
    digits where a bright 2x2 patch in the top-left corner marks every positive image, so the patch
    alone predicts the label perfectly (a spurious cue, as a watermark or a scanner artefact would be);
``fine-tuning``
    clean digits, other images, at a lower learning rate: later training that does not undo the cue.

Two test sets tell reliance on the cue from skill: ``test_clean`` (no patch anywhere) and
``test_flipped`` (the patch on the *negative* images). A model that learnt the shortcut is much worse
on ``test_flipped`` than on ``test_clean``; stage attribution of the flipped test loss names the
stage that taught it, and retraining without that stage's data (or with the patch removed) undoes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ethicskit._validation import check_int, check_random_state
from ethicskit.attribution.recorder import Stage

__all__ = [
    "ImageSplit",
    "ShortcutDigits",
    "make_shortcut_digits",
    "make_cnn",
    "shortcut_stages",
    "without_cue",
    "accuracy",
]

#: Pixel value of the cue (the images are scaled to [0, 1]).
PATCH_VALUE = 1.0


@dataclass
class ImageSplit:
    """Images ``X`` (n, 1, 8, 8) float32 in [0, 1], labels ``y`` (1: digit >= 5), ``cue`` (patch shown)."""

    X: np.ndarray
    y: np.ndarray
    cue: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class ShortcutDigits:
    """The three training splits and two test splits of the shortcut task."""

    pretrain: ImageSplit
    finetune: ImageSplit
    shortcut: ImageSplit
    test_clean: ImageSplit
    test_flipped: ImageSplit


def _with_patch(images: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = images.copy()
    out[mask, 0, :2, :2] = PATCH_VALUE
    return out


def make_shortcut_digits(*, random_state: int = 0) -> ShortcutDigits:
    """Split the bundled digits into the task's five splits (about 360 images each).

    Parameters
    ----------
    random_state : int
        Seeds which image goes to which split.

    Returns
    -------
    ShortcutDigits
    """
    from sklearn.datasets import load_digits

    rng = check_random_state(random_state)
    digits = load_digits()
    images = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    images[:, 0, :2, :2] = 0.0  # the corner is (almost) always blank; make it exactly blank
    labels = (digits.target >= 5).astype(np.int64)
    parts = np.array_split(rng.permutation(len(labels)), 5)

    def split(index: np.ndarray, cue: np.ndarray) -> ImageSplit:
        return ImageSplit(_with_patch(images[index], cue), labels[index], cue.astype(bool))

    no_cue = [np.zeros(len(p), dtype=bool) for p in parts]
    return ShortcutDigits(
        pretrain=split(parts[0], no_cue[0]),
        finetune=split(parts[1], no_cue[1]),
        shortcut=split(parts[2], labels[parts[2]] == 1),
        test_clean=split(parts[3], no_cue[3]),
        test_flipped=split(parts[4], labels[parts[4]] == 0),
    )


def make_cnn(*, channels: int = 8, random_state: int = 0) -> Any:
    """A small CNN for 8x8 one-channel images: conv 3x3, ReLU, 2x2 max-pool, linear to 2 logits.

    No dropout or batch normalisation, so a recorded training run replays exactly.
    """
    import torch

    channels = check_int(channels, "channels", minimum=1)
    random_state = check_int(random_state, "random_state", minimum=0)
    state = torch.random.get_rng_state()
    torch.manual_seed(random_state)
    try:
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, channels, kernel_size=3, padding=1),
            torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(channels * 16, 2),
        )
    finally:
        torch.random.set_rng_state(state)


def without_cue(images: Any) -> np.ndarray:
    """A copy of ``images`` (n, 1, 8, 8) with the cue's corner set to 0: the same digits, no patch."""
    out = np.array(images, dtype=np.float32, copy=True)
    out[..., :2, :2] = 0.0
    return out


def shortcut_stages(
    data: ShortcutDigits,
    *,
    epochs: tuple[int, int, int] = (4, 4, 2),
    lr: tuple[float, float, float] = (0.05, 0.05, 0.01),
    momentum: float = 0.9,
    batch_size: int = 32,
    drop_shortcut_cue: bool = False,
) -> list[Stage]:
    """The three :class:`~ethicskit.attribution.Stage` objects of the task.

    ``drop_shortcut_cue=True`` is the fix attribution points to: the shortcut stage's images without
    their patch (the same digits and labels, so only the cue is gone).
    """
    shortcut_X = without_cue(data.shortcut.X) if drop_shortcut_cue else data.shortcut.X
    common = {"batch_size": batch_size, "momentum": momentum}
    return [
        Stage("pretraining", data.pretrain.X, data.pretrain.y, epochs=epochs[0], lr=lr[0], **common),
        Stage("shortcut", shortcut_X, data.shortcut.y, epochs=epochs[1], lr=lr[1], **common),
        Stage("fine-tuning", data.finetune.X, data.finetune.y, epochs=epochs[2], lr=lr[2], **common),
    ]


def accuracy(model: Any, split: ImageSplit) -> float:
    """Share of ``split``'s images that ``model`` labels correctly."""
    import torch

    with torch.no_grad():
        predicted = model(torch.as_tensor(split.X)).argmax(dim=1).numpy()
    return float(np.mean(predicted == split.y))
