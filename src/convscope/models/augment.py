"""Differentiable augmentation for GANs on little data: DiffAugment and ADA's adaptive probability.

With a few thousand images, D memorises the training set and G stops
learning. Both remedies augment *every* image D sees, real and fake, in both
the D step and the G step, with transforms written in torch ops so that the
gradient of ``D(T(G(z)))`` reaches G:

- **DiffAugment** (Zhao et al., NeurIPS 2020): every image, every step.
- **ADA** (Karras et al., NeurIPS 2020): each transform is applied to each
  image with a probability ``p`` that :class:`AdaptiveAugment` steers from
  the sign of D's output on real images (``r_t = E[sign(D(x))]``, target 0.6).

The policies, applied in this order (:data:`POLICIES`):

- ``color``: brightness ``x + U(-0.5, 0.5)``, saturation (a no-op on one
  channel) and contrast ``(x - mean)·U(0.5, 1.5) + mean``, DiffAugment's
  ranges times ``color``'s strength.
- ``translation``: a whole-pixel shift of up to ``translation`` of the side
  (default 1/8: 4 pixels at 32x32) in each direction. The uncovered border is
  filled by ``boundary`` (default ``reflect``, not DiffAugment's zeros: in a
  GAN's [-1, 1] range 0 is mid-grey, a frame that only augmentation draws;
  reflecting continues the black MNIST background).
- ``cutout``: one square of side ``cutout`` of the image (default 1/4, half
  DiffAugment's 1/2, which erases thin strokes) set to ``cutout_fill``
  (DiffAugment's 0). Its centre is uniform over the image, so it may be
  clipped by the border.

The random parameters are drawn on the CPU from a ``torch.Generator`` (the
same numbers on every device, and a state a checkpoint can hold), as many
draws whatever ``p`` is, then moved to the images' device.

Example:
    >>> spec = parse_augment("diffaug:translation,cutout=0.2")
    >>> spec.to_spec()
    'diffaug:translation=0.125,cutout=0.2,boundary=reflect'
    >>> x = torch.zeros(4, 1, 32, 32, requires_grad=True)
    >>> y = augment(x, spec, generator=torch.Generator().manual_seed(0))
    >>> y.shape, y.requires_grad
    (torch.Size([4, 1, 32, 32]), True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from .._checks import ArgumentError, check_float, check_int, check_option, check_shape, fail
from .._config import ConfigMixin

__all__ = [
    "POLICIES",
    "MODES",
    "BOUNDARIES",
    "AugmentSpec",
    "parse_augment",
    "sample_params",
    "apply_params",
    "augment",
    "augment_pair",
    "AdaptiveAugment",
    "Augmenter",
]

POLICIES = ("color", "translation", "cutout")  # also the order they are applied in
MODES = ("diffaug", "ada")
BOUNDARIES = ("reflect", "replicate", "zeros")
DEFAULT_POLICIES = ("translation", "cutout")
_ALIASES = {"colour": "color"}
# spec settings (key=value in the CLI string) -> AugmentSpec field, and whether only ADA uses it
_SETTINGS = {"boundary": ("boundary", False), "fill": ("cutout_fill", False), "target": ("target", True),
             "images": ("ada_images", True), "interval": ("ada_interval", True), "p": ("ada_p", True)}


@dataclass(frozen=True)
class AugmentSpec(ConfigMixin):
    """What to augment and how strongly (saved with the training config).

    Args:
        mode: ``"diffaug"`` (every image, every step) or ``"ada"`` (each policy
            per image with the adaptive probability ``p``).
        policies: a subset of :data:`POLICIES`; stored in the order applied.
        translation: largest shift as a fraction of the side, in (0, 0.5].
        cutout: side of the cut square as a fraction of the image side, in (0, 1].
        color: scales DiffAugment's brightness/saturation/contrast ranges, in (0, 1].
        boundary: how translation fills the uncovered border: ``reflect``,
            ``replicate`` or ``zeros`` (the vocabulary of numpy.pad).
        cutout_fill: the value written into the cut square.
        target: ADA's target for ``r_t = E[sign(D(real))]``.
        ada_images: real images over which ``p`` can move from 0 to 1 (the paper's
            500k; the default suits runs of ~100k-1M images).
        ada_interval: D steps between two adjustments of ``p``.
        ada_p: ADA's starting probability.
    """

    mode: str = "diffaug"
    policies: tuple[str, ...] = DEFAULT_POLICIES
    translation: float = 0.125
    cutout: float = 0.25
    color: float = 1.0
    boundary: str = "reflect"
    cutout_fill: float = 0.0
    target: float = 0.6
    ada_images: int = 100_000
    ada_interval: int = 4
    ada_p: float = 0.0

    def __post_init__(self):
        s = object.__setattr__
        s(self, "mode", check_option("mode", self.mode, MODES))
        pol = (self.policies,) if isinstance(self.policies, str) else self.policies
        if not isinstance(pol, tuple | list) or not pol:
            raise fail("policies", "a non-empty sequence of " + _names(POLICIES), self.policies)
        names = set()
        for p in pol:
            key = _ALIASES.get(p.strip().lower(), p) if isinstance(p, str) else p
            names.add(check_option("augment policy", key, POLICIES))
        s(self, "policies", tuple(p for p in POLICIES if p in names))
        s(self, "translation", check_float("translation", self.translation, min_value=0.0, max_value=0.5, strict_min=True))
        s(self, "cutout", check_float("cutout", self.cutout, min_value=0.0, max_value=1.0, strict_min=True))
        s(self, "color", check_float("color", self.color, min_value=0.0, max_value=1.0, strict_min=True))
        s(self, "boundary", check_option("boundary", self.boundary, BOUNDARIES))
        s(self, "cutout_fill", check_float("cutout_fill", self.cutout_fill))
        s(self, "target", check_float("target", self.target, min_value=0.0, max_value=1.0, strict_min=True))
        s(self, "ada_images", check_int("ada_images", self.ada_images, min_value=1))
        s(self, "ada_interval", check_int("ada_interval", self.ada_interval, min_value=1))
        s(self, "ada_p", check_float("ada_p", self.ada_p, min_value=0.0, max_value=1.0))

    def to_spec(self) -> str:
        """The canonical CLI string; ``parse_augment(spec.to_spec()) == spec``."""
        items = [f"{p}={getattr(self, p):g}" for p in self.policies]
        items.append(f"boundary={self.boundary}")
        if "cutout" in self.policies and self.cutout_fill != 0.0:
            items.append(f"fill={self.cutout_fill:g}")
        if self.mode == "ada":
            items += [f"target={self.target:g}", f"images={self.ada_images}", f"interval={self.ada_interval}",
                      f"p={self.ada_p:g}"]
        return f"{self.mode}:" + ",".join(items)


def _names(options) -> str:
    return ", ".join(repr(o) for o in options)


def parse_augment(spec: str | AugmentSpec | None) -> AugmentSpec | None:
    """Parse the CLI's ``--augment`` value; ``None``, ``""``, ``"none"`` and ``"off"`` mean no augmentation.

    Grammar: ``MODE[:ITEM,ITEM,...]`` with ``MODE`` one of :data:`MODES` and each
    ``ITEM`` a policy (``translation``, ``cutout``, ``color``), optionally with
    its strength (``cutout=0.2``), or a setting: ``boundary=reflect|replicate|zeros``,
    ``fill=VALUE`` (cutout's), and for ``ada`` ``target=``, ``images=``,
    ``interval=``, ``p=``. No policy named: ``translation,cutout``.

    >>> parse_augment("ada:translation,target=0.5").to_spec()
    'ada:translation=0.125,boundary=reflect,target=0.5,images=100000,interval=4,p=0'
    >>> parse_augment("diffaug:rotate")
    Traceback (most recent call last):
    ...
    convscope._checks.ArgumentError: augment policy must be one of 'color', 'translation', 'cutout' \
(or a setting boundary=, fill=, target=, images=, interval=, p=), got 'rotate'
    """
    if spec is None or isinstance(spec, AugmentSpec):
        return spec
    if not isinstance(spec, str):
        raise fail("augment", "a string such as 'diffaug:translation,cutout'", spec, TypeError)
    text = spec.strip()
    if text.lower() in ("", "none", "off"):
        return None
    head, _, tail = text.partition(":")
    mode = check_option("augment", head, MODES)
    policies: list[str] = []
    kw: dict[str, Any] = {}
    for raw in tail.split(",") if tail.strip() else []:
        item = raw.strip()
        if not item:
            raise fail("augment", "a comma-separated list without empty items", spec)
        key, eq, value = item.partition("=")
        key = key.strip().lower().replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in POLICIES:
            policies.append(key)
            if eq:
                kw[key] = _number(key, value, spec)
        elif key in _SETTINGS:
            field, ada_only = _SETTINGS[key]
            if not eq:
                raise fail("augment", f"{key}=VALUE (a setting needs a value)", spec)
            if ada_only and mode != "ada":
                raise fail("augment", f"'ada:...' to take the setting {key}=", spec)
            if key == "boundary":
                kw[field] = value.strip()
            elif key in ("images", "interval"):
                kw[field] = int(_number(key, value, spec))
            else:
                kw[field] = _number(key, value, spec)
        else:
            raise fail("augment policy", f"one of {_names(POLICIES)} (or a setting "
                       + ", ".join(f"{k}=" for k in _SETTINGS) + ")", item.partition("=")[0].strip())
    return AugmentSpec(mode=mode, policies=tuple(policies) or DEFAULT_POLICIES, **kw)


def _number(key: str, value: str, spec: str) -> float:
    try:
        v = float(value)
    except ValueError:
        raise fail("augment", f"{key}=NUMBER", spec) from None
    if key in ("images", "interval") and not v.is_integer():
        raise fail("augment", f"{key}=INTEGER", spec)
    return v


# ---------------------------------------------------------------- parameters, then their application


def sample_params(spec: AugmentSpec, batch: int, height: int, width: int, *, p: float = 1.0,
                  generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Random transform parameters for ``batch`` images (CPU tensors); images left alone get the identity.

    Keys: ``brightness``, ``saturation``, ``contrast`` ``(B,)`` and ``color_on``
    ``(B,)`` bool; ``translation``
    ``(B, 2)`` int64 ``(dy, dx)``; ``cutout_center`` ``(B, 2)`` int64,
    ``cutout_size`` ``(2,)`` int64 and ``cutout_on`` ``(B,)`` bool; only those of
    ``spec``'s policies. The number of draws does not depend on ``p``.
    """
    B = check_int("batch", batch, min_value=0)
    p = check_float("p", p, min_value=0.0, max_value=1.0)
    g = generator

    def chosen() -> torch.Tensor:  # (B,) bool: which images get this policy
        return torch.rand(B, generator=g) < p

    out: dict[str, torch.Tensor] = {}
    for pol in spec.policies:
        if pol == "color":
            s = spec.color
            on = chosen()
            r = torch.rand(3, B, generator=g) * on.float()  # identity (0, 1, 1) where not chosen
            out["brightness"] = (r[0] - 0.5 * on.float()) * s
            out["saturation"] = 1 + (2 * r[1] - on.float()) * s
            out["contrast"] = 1 + (r[2] - 0.5 * on.float()) * s
            out["color_on"] = on
        elif pol == "translation":
            on = chosen()
            my, mx = int(height * spec.translation + 0.5), int(width * spec.translation + 0.5)
            dy = torch.randint(-my, my + 1, (B,), generator=g)
            dx = torch.randint(-mx, mx + 1, (B,), generator=g)
            out["translation"] = torch.stack([dy, dx], 1) * on[:, None]
        else:  # cutout
            on = chosen()
            ch, cw = max(1, int(height * spec.cutout + 0.5)), max(1, int(width * spec.cutout + 0.5))
            cy = torch.randint(0, height, (B,), generator=g)
            cx = torch.randint(0, width, (B,), generator=g)
            out["cutout_center"] = torch.stack([cy, cx], 1)
            out["cutout_size"] = torch.tensor([ch, cw])
            out["cutout_on"] = on
    return out


def _source_index(idx: torch.Tensor, n: int, boundary: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Map out-of-range source indices into [0, n) by ``boundary``; the validity mask for ``zeros``."""
    if boundary == "zeros":
        return idx.clamp(0, n - 1), (idx >= 0) & (idx < n)
    if boundary == "replicate" or n == 1:
        return idx.clamp(0, n - 1), None
    idx = idx.abs()  # reflect without repeating the edge (numpy 'reflect'); shifts are < n
    return torch.where(idx > n - 1, 2 * (n - 1) - idx, idx), None


def _translate(x: torch.Tensor, shift: torch.Tensor, boundary: str) -> torch.Tensor:
    """``out[b, :, i, j] = x[b, :, i - dy[b], j - dx[b]]`` with the border filled by ``boundary``."""
    B, C, H, W = x.shape
    dev = x.device
    shift = shift.to(dev)
    iy, vy = _source_index(torch.arange(H, device=dev)[None, :] - shift[:, :1], H, boundary)  # (B, H)
    ix, vx = _source_index(torch.arange(W, device=dev)[None, :] - shift[:, 1:], W, boundary)  # (B, W)
    out = torch.gather(x, 2, iy[:, None, :, None].expand(B, C, H, W))  # rows
    out = torch.gather(out, 3, ix[:, None, None, :].expand(B, C, H, W))  # then columns
    if vy is not None:
        mask = vy[:, None, :, None] & vx[:, None, None, :]  # (B, 1, H, W)
        out = out * mask.to(out.dtype)
    return out


def _cutout(x: torch.Tensor, center: torch.Tensor, size: torch.Tensor, on: torch.Tensor, fill: float) -> torch.Tensor:
    _, _, H, W = x.shape
    dev = x.device
    center, on = center.to(dev), on.to(dev)
    ch, cw = int(size[0]), int(size[1])
    y0 = center[:, :1] - ch // 2  # (B, 1)
    x0 = center[:, 1:] - cw // 2
    rows = torch.arange(H, device=dev)[None, :]
    cols = torch.arange(W, device=dev)[None, :]
    in_y = (rows >= y0) & (rows < y0 + ch)  # (B, H)
    in_x = (cols >= x0) & (cols < x0 + cw)  # (B, W)
    cut = (in_y[:, :, None] & in_x[:, None, :] & on[:, None, None])[:, None]  # (B, 1, H, W)
    return torch.where(cut, torch.tensor(fill, dtype=x.dtype, device=dev), x)


def apply_params(x: torch.Tensor, spec: AugmentSpec, params: dict[str, torch.Tensor]) -> torch.Tensor:
    """Apply drawn parameters to images ``(B, C, H, W)``; differentiable in ``x``; same shape, dtype, device."""
    check_shape("x", x, ["B", "C", "H", "W"])
    if not x.dtype.is_floating_point:
        raise fail("x", "a floating-point tensor", x, TypeError)
    B = x.shape[0]
    for k, v in params.items():
        if k != "cutout_size" and v.shape[0] != B:
            raise fail("params", f"parameters for a batch of {B} images", f"{k} for {v.shape[0]}")
    dt, dev = x.dtype, x.device
    if "brightness" in params:
        y = x + params["brightness"].to(dev, dt).view(B, 1, 1, 1)
        m = y.mean(1, keepdim=True)
        y = (y - m) * params["saturation"].to(dev, dt).view(B, 1, 1, 1) + m
        m = y.mean((1, 2, 3), keepdim=True)
        y = (y - m) * params["contrast"].to(dev, dt).view(B, 1, 1, 1) + m
        x = torch.where(params["color_on"].to(dev).view(B, 1, 1, 1), y, x)  # images left alone stay bit-exact
    if "translation" in params:
        x = _translate(x, params["translation"], spec.boundary)
    if "cutout_center" in params:
        x = _cutout(x, params["cutout_center"], params["cutout_size"], params["cutout_on"], spec.cutout_fill)
    return x


def augment(x: torch.Tensor, spec: AugmentSpec | str, *, p: float = 1.0, generator: torch.Generator | None = None,
            params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """Augment images ``(B, C, H, W)`` (each policy per image with probability ``p``); gradients flow to ``x``.

    ``params`` (from :func:`sample_params`) replays given transforms; otherwise they
    are drawn from ``generator`` (default: torch's global CPU generator).
    """
    spec = parse_augment(spec) if isinstance(spec, str) else spec
    if not isinstance(spec, AugmentSpec):
        raise fail("spec", "an AugmentSpec or an augment string", spec, TypeError)
    check_shape("x", x, ["B", "C", "H", "W"])
    if params is None:
        params = sample_params(spec, x.shape[0], x.shape[2], x.shape[3], p=p, generator=generator)
    return apply_params(x, spec, params)


def augment_pair(real: torch.Tensor, fake: torch.Tensor, spec: AugmentSpec | str, *, p: float = 1.0,
                 generator: torch.Generator | None = None, same_params: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment the real and the fake half of a D step.

    ``same_params=True`` draws one set of parameters and applies it to both halves
    (image ``i`` of each gets the same transform; the halves must be equally
    large); otherwise each half gets its own draw (real first), as DiffAugment does.
    """
    spec = parse_augment(spec) if isinstance(spec, str) else spec
    check_shape("real", real, ["B", "C", "H", "W"])
    check_shape("fake", fake, ["B", real.shape[1], real.shape[2], real.shape[3]])
    if same_params:
        if fake.shape[0] != real.shape[0]:
            raise fail("fake", f"a batch of {real.shape[0]} images (as real) for same_params", fake)
        params = sample_params(spec, real.shape[0], real.shape[2], real.shape[3], p=p, generator=generator)
        return apply_params(real, spec, params), apply_params(fake, spec, params)
    return augment(real, spec, p=p, generator=generator), augment(fake, spec, p=p, generator=generator)


# ---------------------------------------------------------------- ADA's controller


class AdaptiveAugment:
    """ADA's probability ``p``, steered by D's overfitting heuristic ``r_t = E[sign(D(real))]``.

    Every ``interval`` calls of :meth:`observe`, ``p`` moves by
    ``sign(r_t - target) * N / images`` (``N`` the real images observed since the
    last adjustment), then is clamped to [0, 1]: ``p`` can cross [0, 1] in
    ``images`` real images. ``r_t`` near 1 means D calls nearly every real image
    real, i.e. it has memorised them. The state is plain numbers
    (:meth:`state_dict`), so a weights-only checkpoint resumes it exactly.

    >>> ada = AdaptiveAugment(target=0.6, images=1000, interval=1)
    >>> ada.observe(torch.ones(100))  # D sure that every real image is real: p rises by 100/1000
    0.1
    """

    def __init__(self, *, target: float = 0.6, images: int = 100_000, interval: int = 4, p: float = 0.0):
        self.target = check_float("target", target, min_value=0.0, max_value=1.0, strict_min=True)
        self.images = check_int("images", images, min_value=1)
        self.interval = check_int("interval", interval, min_value=1)
        self.p = check_float("p", p, min_value=0.0, max_value=1.0)
        self.rt = float("nan")  # the last r_t
        self._sign_sum, self._count, self._calls = 0.0, 0.0, 0

    def observe(self, logits_real: torch.Tensor, *, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> float:
        """Accumulate D's outputs (logits; only their sign counts) on real images; adjust ``p`` when due.

        ``reduce`` sums ``[sign sum, count]`` over processes (DDP), so that every rank keeps the same ``p``.
        Returns the current ``p``.
        """
        t = logits_real.detach()
        stats = torch.stack([torch.sign(t).sum().double(), torch.tensor(float(t.numel()), dtype=torch.float64,
                                                                        device=t.device)])
        if reduce is not None:
            stats = reduce(stats)
        s, n = stats.tolist()
        self._sign_sum += s
        self._count += n
        self._calls += 1
        if self._calls % self.interval == 0:
            self.adjust()
        return self.p

    def adjust(self) -> float:
        """Move ``p`` from the accumulated ``r_t`` now and reset the accumulators."""
        if self._count > 0:
            self.rt = self._sign_sum / self._count
            direction = (self.rt > self.target) - (self.rt < self.target)
            self.p = min(max(self.p + direction * self._count / self.images, 0.0), 1.0)
        self._sign_sum, self._count = 0.0, 0.0
        return self.p

    def state_dict(self) -> dict[str, float | int]:
        return {"p": self.p, "rt": self.rt, "sign_sum": self._sign_sum, "count": self._count, "calls": self._calls,
                "target": self.target, "images": self.images, "interval": self.interval}

    def load_state_dict(self, state: dict) -> None:
        for key in ("target", "images", "interval"):
            if key in state and state[key] != getattr(self, key):
                raise ArgumentError(f"ada {key} must match the checkpoint's to resume, got {getattr(self, key)!r} "
                                    f"(saved {state[key]!r})")
        self.p = float(state["p"])
        self.rt = float(state["rt"])
        self._sign_sum, self._count, self._calls = float(state["sign_sum"]), float(state["count"]), int(state["calls"])


class Augmenter:
    """What a GAN trainer holds: the spec, its own random stream and (``ada``) the controller.

    Args:
        spec: an :class:`AugmentSpec` or a CLI string (:func:`parse_augment`).
        seed: seeds the augmentation's CPU generator (independent of the noise and data order).

    Use ``fake_aug = aug(fake)``; ``real_aug = aug(real)``; after D's forward on
    the real images, ``aug.observe(logits_real)`` (a no-op for ``diffaug``).
    ``state_dict()`` holds the generator state and ADA's numbers (weights-only safe).
    """

    def __init__(self, spec: AugmentSpec | str, *, seed: int = 0):
        parsed = parse_augment(spec)
        if parsed is None:
            raise fail("spec", "an augmentation (not 'none')", spec)
        self.spec = parsed
        self.generator = torch.Generator().manual_seed(check_int("seed", seed, min_value=0))
        s = self.spec
        self.ada = (AdaptiveAugment(target=s.target, images=s.ada_images, interval=s.ada_interval, p=s.ada_p)
                    if s.mode == "ada" else None)

    @property
    def p(self) -> float:
        """The probability each policy is applied to an image: 1 for ``diffaug``, ADA's ``p`` otherwise."""
        return 1.0 if self.ada is None else self.ada.p

    def __call__(self, x: torch.Tensor, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        return augment(x, self.spec, p=self.p, generator=self.generator, params=params)

    def pair(self, real: torch.Tensor, fake: torch.Tensor, *, same_params: bool = False):
        """:func:`augment_pair` with this augmenter's stream and ``p``."""
        return augment_pair(real, fake, self.spec, p=self.p, generator=self.generator, same_params=same_params)

    def observe(self, logits_real: torch.Tensor, *, reduce=None) -> float:
        """Feed D's logits on (augmented) real images to ADA; returns ``p``."""
        if self.ada is not None:
            self.ada.observe(logits_real, reduce=reduce)
        return self.p

    def state_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "generator": self.generator.get_state(),
                "ada": self.ada.state_dict() if self.ada is not None else None}

    def load_state_dict(self, state: dict) -> None:
        saved = AugmentSpec.from_dict(dict(state["spec"]))
        if saved != self.spec:
            raise ArgumentError(f"augment must match the checkpoint's to resume, got {self.spec.to_spec()!r} "
                                f"(saved {saved.to_spec()!r})")
        self.generator.set_state(state["generator"])
        if self.ada is not None:
            self.ada.load_state_dict(state["ada"])
