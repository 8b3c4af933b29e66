"""Classification metrics: a classifier's loss and accuracy on a set, accuracy of predictions, the confusion matrix."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._checks import check_int, fail

__all__ = ["evaluate_classifier", "accuracy", "confusion_matrix", "TTA_SHIFTS", "shift_images"]

# test-time augmentation: the image itself and its 1-pixel shifts down, up, right, left (dy, dx)
TTA_SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))


def shift_images(x: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Shift images ``(B, C, H, W)`` by whole pixels, the uncovered border repeating the edge (same shape).

    >>> shift_images(torch.arange(4.).view(1, 1, 1, 4), 0, 1).flatten().tolist()
    [0.0, 0.0, 1.0, 2.0]
    """
    H, W = x.shape[-2:]
    p = (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0))  # left, right, top, bottom
    y = F.pad(x, p, mode="replicate")
    top, left = max(-dy, 0), max(-dx, 0)
    return y[..., top:top + H, left:left + W]


@torch.no_grad()
def evaluate_classifier(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 500,
                        tta: bool = False) -> dict:
    """Mean cross-entropy, accuracy and predictions of ``model`` (run in eval mode) on ``(x, y)``.

    ``tta`` (test-time augmentation) averages the softmax over the image and its
    1-pixel shifts (:data:`TTA_SHIFTS`); the loss is then the cross-entropy of the averaged probabilities.

    Returns ``{"loss", "accuracy", "predictions"}`` (NaN loss and accuracy for an empty set);
    the model's training flag is restored afterwards.
    """
    batch_size = check_int("batch_size", batch_size, min_value=1)
    was = model.training
    model.eval()
    dev = next(model.parameters()).device
    loss_sum, preds = 0.0, []
    for i in range(0, x.shape[0], batch_size):
        xb, yb = x[i : i + batch_size].to(dev), y[i : i + batch_size].to(dev)
        if tta:
            prob = torch.stack([F.softmax(model(shift_images(xb, dy, dx)), 1) for dy, dx in TTA_SHIFTS]).mean(0)
            logits = prob.clamp_min(1e-12).log()  # log-probabilities: cross_entropy's log_softmax leaves them as they are
        else:
            logits = model(xb)
        loss_sum += float(F.cross_entropy(logits, yb, reduction="sum"))
        preds.append(logits.argmax(1).cpu())
    model.train(was)
    n = x.shape[0]
    p = torch.cat(preds) if preds else torch.zeros(0, dtype=torch.int64)
    return {"loss": loss_sum / n if n else float("nan"), "accuracy": accuracy(y, p), "predictions": p}


def accuracy(y_true: torch.Tensor, y_pred: torch.Tensor) -> float:
    """The fraction of predictions equal to the labels (NaN when there are none).

    >>> accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
    0.75
    """
    y_true, y_pred = torch.as_tensor(y_true).cpu(), torch.as_tensor(y_pred).cpu()
    if y_true.shape != y_pred.shape:
        raise fail("y_pred", f"of the labels' shape {tuple(y_true.shape)}", y_pred)
    n = y_true.numel()
    return int((y_true == y_pred).sum()) / n if n else float("nan")


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``cm[i, j]`` = images of class ``i`` predicted as ``j``.

    >>> confusion_matrix(torch.tensor([0, 0, 1]), torch.tensor([0, 1, 1]), 2).tolist()
    [[1, 1], [0, 1]]
    """
    num_classes = check_int("num_classes", num_classes, min_value=1)
    idx = y_true.to(torch.int64) * num_classes + y_pred.to(torch.int64)
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
