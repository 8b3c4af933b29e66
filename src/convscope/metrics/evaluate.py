"""One entry point to judge a trained generator offline: :func:`evaluate_gan`.

There are no Inception weights here, so the feature network is a classifier
trained on the same kind of data (``convscope classify train``), as the MNIST
GAN literature does. Generated and real images go through the same adapter
(from the GAN's [-1, 1] to the classifier's size, channels and
normalisation), and every metric is reported with its ideal value and a
*floor*: the same metric between two disjoint real splits, i.e. what a
perfect generator would score with these sample sizes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

import numpy as np
import torch

from .features import (
    class_histogram_kl,
    density_coverage,
    frechet_distance,
    kernel_distance,
    precision_recall,
)

__all__ = ["classifier_adapter", "classify_images", "evaluate_gan", "linear_probe", "format_table"]


def classifier_adapter(meta: dict) -> Callable[[torch.Tensor], torch.Tensor]:
    """[-1, 1] GAN images -> the classifier's input: channels, size, padding and normalisation from ``meta``.

    Uses :func:`convscope.models.cnn.prepare_images`, the classifier's own preprocessing.
    """
    from ..models.cnn import prepare_images

    def adapt(x: torch.Tensor) -> torch.Tensor:
        return prepare_images((x.float() + 1) / 2, meta)

    return adapt


@torch.no_grad()
def classify_images(model, meta: dict, images: torch.Tensor, batch_size: int = 500,
                    device: str | torch.device = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """Penultimate features (N, d) and predicted classes (N,) of [-1, 1] images."""
    adapt = classifier_adapter(meta)
    model = model.to(device).eval()
    feats, preds = [], []
    for i in range(0, images.shape[0], batch_size):
        x = adapt(images[i:i + batch_size]).to(device)
        f = model.features(x)
        feats.append(f.float().cpu())
        preds.append(model.head(f).argmax(1).cpu() if hasattr(model, "head") else model(x).argmax(1).cpu())
    return torch.cat(feats), torch.cat(preds)


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray,
                 *, max_iter: int = 300, seed: int = 0) -> float:
    """Test accuracy of a standardised multinomial logistic regression (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter, C=0.1, random_state=seed))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny probes
        clf.fit(train_x, train_y)
    return float((clf.predict(test_x) == test_y).mean())


def evaluate_gan(
    checkpoint: str | os.PathLike,
    data,
    classifier: str | os.PathLike,
    *,
    n_samples: int = 10_000,
    probe: bool = True,
    probe_train: int = 2000,
    seed: int = 0,
    device: str | torch.device = "cpu",
    generator=None,
) -> dict:
    """Every offline metric of a generator, each with its ideal value and real-vs-real floor.

    Args:
        checkpoint: a GAN run folder or checkpoint file.
        data: the real images' source (``load_dataset``); its GAN ``train`` split (every
            non-test image, what the GAN trains on; :func:`~convscope.models.dcgan.load_data`)
            is the reference, its ``test`` split gives the floor.
        classifier: a classifier run folder or checkpoint (``convscope classify train``).
        n_samples: generated images for coverage and class balance (10k as in the issue).
        probe: also fit the linear probes (D features vs raw pixels).
        generator: an already loaded ``(G, meta)`` (skips ``checkpoint``); by default
            :func:`~convscope.models.dcgan.load_generator`'s (the EMA generator when the run has one).

    Returns:
        ``{"metrics": {name: {"value", "ideal", "floor", "better"}}, "histogram": [...], ...}``.
    """
    from ..models.cnn import load_classifier
    from ..models.dcgan import generate, load_data, load_discriminator, load_generator

    G, gmeta = generator if generator is not None else load_generator(checkpoint, device)
    cfg = gmeta["model_config"]
    clf, cmeta = load_classifier(classifier)
    n_classes = len(cmeta["classes"])
    real_tr, y_tr, _, _ = load_data(data, image_size=cfg.image_size, channels=cfg.channels, split="train")
    real_te, y_te, _, _ = load_data(data, image_size=cfg.image_size, channels=cfg.channels, split="test")
    fake = generate(G, n_samples, seed=seed + 1, device=device)

    f_tr, _p_tr = classify_images(clf, cmeta, real_tr, device=device)
    f_te, p_te = classify_images(clf, cmeta, real_te, device=device)
    f_fk, p_fk = classify_images(clf, cmeta, fake, device=device)
    m = len(f_te)  # matched sample size: the floor uses the test split, so does the matched score
    f_fk_m = f_fk[:m]

    fd = frechet_distance(f_tr, f_fk)
    fd_m = frechet_distance(f_tr, f_fk_m)
    fd_floor = frechet_distance(f_tr, f_te)
    kid, kid_std = kernel_distance(f_tr, f_fk_m, seed=seed)
    kid_floor, _ = kernel_distance(f_tr, f_te, seed=seed)
    prec, rec = precision_recall(f_tr, f_fk_m, k=3)
    prec_floor, rec_floor = precision_recall(f_tr, f_te, k=3)
    dens, cov = density_coverage(f_tr, f_fk_m, k=3)
    dens_floor, cov_floor = density_coverage(f_tr, f_te, k=3)
    hist = class_histogram_kl(p_fk.numpy(), n_classes)
    hist_real = class_histogram_kl(p_te.numpy(), n_classes)
    acc_real = float((p_te == y_te).double().mean()) if y_te is not None else float("nan")

    def row(value, ideal, floor, better):
        return {"value": float(value), "ideal": ideal, "floor": None if floor is None else float(floor), "better": better}

    metrics = {
        "frechet_distance": row(fd_m, 0.0, fd_floor, "lower"),
        f"frechet_distance_{len(f_fk)}": row(fd, 0.0, None, "lower"),
        "kid": row(kid, 0.0, kid_floor, "lower"),
        "precision": row(prec, 1.0, prec_floor, "higher"),
        "recall": row(rec, 1.0, rec_floor, "higher"),
        "density": row(dens, 1.0, dens_floor, "higher"),
        "coverage": row(cov, 1.0, cov_floor, "higher"),
        "classes_covered": row(hist["covered"], n_classes, hist_real["covered"], "higher"),
        "class_balance_kl": row(hist["kl"], 0.0, hist_real["kl"], "lower"),
    }
    out = {
        "metrics": metrics,
        "histogram": hist["histogram"],
        "classes": list(cmeta["classes"]),
        "n_generated": len(f_fk),
        "n_matched": int(m),
        "n_real_reference": len(f_tr),
        "kid_std": kid_std,
        "classifier_accuracy_real": acc_real,
        "checkpoint": str(gmeta["path"]),
        "step": gmeta.get("step"),
        "generator": gmeta.get("generator", "G"),
    }
    if probe and y_tr is not None:
        D = load_discriminator(gmeta, device)
        k = min(probe_train, len(real_tr))
        # a seeded random subset: splits are often stored class by class
        pick = torch.randperm(len(real_tr), generator=torch.Generator().manual_seed(seed))[:k]
        real_tr, y_tr = real_tr[pick], y_tr[pick]
        with torch.no_grad():
            dtr = torch.cat([D.features(real_tr[i:i + 500].to(device)).cpu() for i in range(0, k, 500)]).numpy()
            dte = torch.cat([D.features(real_te[i:i + 500].to(device)).cpu() for i in range(0, len(real_te), 500)]).numpy()
        acc_d = linear_probe(dtr, y_tr[:k].numpy(), dte, y_te.numpy(), seed=seed)
        acc_px = linear_probe(real_tr[:k].flatten(1).numpy(), y_tr[:k].numpy(), real_te.flatten(1).numpy(),
                              y_te.numpy(), seed=seed)
        metrics["probe_accuracy_D"] = row(acc_d, 1.0, acc_px, "higher")
        out["probe"] = {"d_features": acc_d, "pixels": acc_px, "d_feature_dim": int(dtr.shape[1]),
                        "pixel_dim": int(real_tr[0].numel()), "train_size": k, "test_size": len(real_te)}
    return out


def format_table(result: dict) -> str:
    """The metrics as a Markdown table (value, ideal, floor)."""
    lines = [f"Generator: {result['generator']}.", ""] if result.get("generator") else []
    lines += ["| metric | value | ideal | real-vs-real floor |", "|---|---|---|---|"]
    for name, r in result["metrics"].items():
        fl = "-" if r["floor"] is None else _fmt(r["floor"])
        lines.append(f"| {name} ({r['better']} is better) | {_fmt(r['value'])} | {_fmt(r['ideal'])} | {fl} |")
    return "\n".join(lines)


def _fmt(v) -> str:
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1):
        return str(int(v))
    if isinstance(v, float) and (math.isnan(v) or abs(v) >= 0.01 or v == 0):
        return f"{v:.3f}"
    return f"{v:.2e}"
