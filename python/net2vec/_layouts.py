"""Layer layouts for net2vec.export: how a layer's output becomes N x K x H x W.

net2vec reads every layer as N x K x H x W (K filters on an H x W map). Networks produce
other layouts; the exported module converts them inside its forward:

  nchw            N x K x H x W, as is
  nhwc            N x H x W x K (Swin stage outputs, ConvNeXt block internals), permuted
  tokens[:P[:HxW]]
                  N x (P + H*W) x D (ViT-style token sequences): the first P tokens (class,
                  distillation, register tokens) are dropped and token P + y*W + x becomes
                  map position (y, x), giving N x D x H x W
  vector          N x D (fully connected outputs): N x D x 1 x 1 (classification spaces only)
  auto            decided from the shape (decide_layout)

This module needs torch only for Net2VecModule and to_nchw_reference.
"""

import math
import re
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Set, Tuple

import torch
from torch import nn

#: auto accepts a token sequence of T tokens as P prefix tokens + an h x h grid with
#: h = floor(sqrt(T)) and P = T - h*h only when P <= MAX_AUTO_PREFIX_TOKENS. Real models have
#: 0 (no class token), 1 (class token), 2 (class + distillation) or 1 + 4 (class + registers)
#: prefix tokens; a larger remainder means the grid is not square (or the tensor is not a
#: token sequence) and auto refuses rather than guess.
MAX_AUTO_PREFIX_TOKENS = 8

LAYOUT_NAMES = ("auto", "nchw", "nhwc", "tokens", "vector")

# Codes stored in the exported module (TorchScript has no enums).
KIND_NCHW, KIND_NHWC, KIND_TOKENS, KIND_VECTOR = 0, 1, 2, 3
_KIND_CODES = {"nchw": KIND_NCHW, "nhwc": KIND_NHWC, "tokens": KIND_TOKENS, "vector": KIND_VECTOR}


class LayoutError(ValueError):
    """A layout that cannot apply to a layer (message names the layer and shape)."""


@dataclass
class LayerRequest:
    """One item of --layers: [ALIAS=]NAME[:LAYOUT[:P[:HxW]]]."""

    name: str                       # the model's node or module name
    alias: Optional[str] = None     # the name written to net2vec_layers (default: name)
    layout: str = "auto"
    prefix: Optional[int] = None    # tokens: prefix tokens (None: global / derived)
    grid: Optional[Tuple[int, int]] = None  # tokens: (h, w) (None: global / derived)

    @property
    def key(self) -> str:
        return self.alias if self.alias is not None else self.name


@dataclass(frozen=True)
class Layout:
    """A resolved layout of one layer."""

    kind: str                       # nchw | nhwc | tokens | vector
    prefix: int = 0
    grid: Tuple[int, int] = (0, 0)

    def spec(self) -> str:
        if self.kind == "tokens":
            return f"tokens:{self.prefix}:{self.grid[0]}x{self.grid[1]}"
        return self.kind

    def code(self) -> int:
        return _KIND_CODES[self.kind]

    def map_shape(self, shape: Sequence[int]) -> Tuple[int, int, int]:
        """K, H, W of the converted layer for an output of `shape` (with the batch dim)."""
        if self.kind == "nchw":
            return (shape[1], shape[2], shape[3])
        if self.kind == "nhwc":
            return (shape[3], shape[1], shape[2])
        if self.kind == "tokens":
            return (shape[2], self.grid[0], self.grid[1])
        return (shape[1], 1, 1)


def fmt_shape(shape: Sequence[int]) -> str:
    return "x".join(str(int(s)) for s in shape)


def parse_grid(text: str, what: str = "grid") -> Tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not m or int(m.group(1)) < 1 or int(m.group(2)) < 1:
        raise ValueError(f"{what} must be HxW with positive integers (e.g. 14x14), got '{text}'")
    return int(m.group(1)), int(m.group(2))


def _parse_count(text: str, what: str) -> int:
    if not re.fullmatch(r"\d+", text.strip()):
        raise ValueError(f"{what} must be a non-negative integer, got '{text}'")
    return int(text)


def parse_layers(items: Sequence[str]) -> List[LayerRequest]:
    """Parses --layers values (each a comma-separated list) into requests.

    Item syntax: [ALIAS=]NAME[:LAYOUT], with LAYOUT one of auto, nchw, nhwc, vector, or
    tokens[:P[:HxW]] (P or HxW may be left empty: tokens::3x5).
    """
    out: List[LayerRequest] = []
    for group in items:
        for raw in group.split(","):
            item = raw.strip()
            if not item:
                continue
            alias = None
            if "=" in item:
                alias, item = (s.strip() for s in item.split("=", 1))
                if not alias:
                    raise ValueError(f"--layers: empty alias in '{raw.strip()}'")
            parts = item.split(":")
            name = parts[0].strip()
            if not name:
                raise ValueError(f"--layers: empty layer name in '{raw.strip()}'")
            layout = parts[1].strip().lower() if len(parts) > 1 and parts[1].strip() else "auto"
            if layout not in LAYOUT_NAMES:
                raise ValueError(
                    f"--layers: unknown layout '{parts[1]}' in '{raw.strip()}' "
                    f"(expected one of {', '.join(LAYOUT_NAMES)}; tokens takes :P:HxW)")
            prefix = grid = None
            extra = parts[2:]
            if extra and layout != "tokens":
                raise ValueError(f"--layers: only the tokens layout takes :P:HxW, got '{raw.strip()}'")
            if len(extra) > 2:
                raise ValueError(f"--layers: too many ':' in '{raw.strip()}' "
                                 "(expected NAME:tokens:P:HxW)")
            if len(extra) >= 1 and extra[0].strip():
                prefix = _parse_count(extra[0], f"--layers {name}: prefix token count")
            if len(extra) == 2 and extra[1].strip():
                grid = parse_grid(extra[1], f"--layers {name}: grid")
            out.append(LayerRequest(name=name, alias=alias, layout=layout, prefix=prefix,
                                    grid=grid))
    keys = [r.key for r in out]
    dup = sorted({k for k in keys if keys.count(k) > 1})
    if dup:
        raise ValueError(f"--layers: layer(s) named twice: {', '.join(dup)} "
                         "(use ALIAS=NAME to give one node two names)")
    return out


@dataclass
class FamilyInfo:
    """What auto knows about the model: whether 4-D outputs may be channels-last, and the
    channel counts of its layers (to tell N x C x H x W from N x H x W x C)."""

    name: str = "generic"
    channels_last: bool = False
    channel_counts: Set[int] = None  # type: ignore[assignment]


def family_of(model: nn.Module) -> FamilyInfo:
    """Swin (v1, v2) keeps N x H x W x C between its stages and ConvNeXt inside its blocks:
    for those, auto tells the layouts apart by the model's channel counts."""
    name, channels_last = "generic", False
    try:
        from torchvision.models import ConvNeXt, SwinTransformer
        if isinstance(model, SwinTransformer):
            name, channels_last = "swin", True
        elif isinstance(model, ConvNeXt):
            name, channels_last = "convnext", True
    except ImportError:  # pragma: no cover - torchvision without these classes
        pass
    counts: Set[int] = set()
    for m in model.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            counts.update((m.in_channels, m.out_channels))
        elif isinstance(m, nn.Linear):
            counts.update((m.in_features, m.out_features))
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            counts.add(m.num_features)
        elif isinstance(m, nn.LayerNorm):
            counts.add(int(m.normalized_shape[-1]))
        elif isinstance(m, nn.GroupNorm):
            counts.add(m.num_channels)
    return FamilyInfo(name=name, channels_last=channels_last, channel_counts=counts)


def _tokens_layout(layer: str, shape: Sequence[int], prefix: Optional[int],
                   grid: Optional[Tuple[int, int]], auto: bool) -> Layout:
    t = int(shape[1])
    desc = f"layer '{layer}' ({fmt_shape(shape)}, read as N x T x D with T = {t} tokens)"
    if grid is not None:
        gh, gw = grid
        if prefix is None and t < gh * gw:
            raise LayoutError(f"{desc}: a {gh}x{gw} grid needs {gh * gw} tokens")
        p = t - gh * gw if prefix is None else prefix
        if p + gh * gw != t:
            raise LayoutError(
                f"{desc}: {p} prefix tokens + a {gh}x{gw} grid = {p + gh * gw} tokens, "
                f"not {t}")
        return Layout("tokens", p, (gh, gw))
    if prefix is not None:
        rest = t - prefix
        side = math.isqrt(rest) if rest > 0 else 0
        if rest <= 0 or side * side != rest:
            raise LayoutError(
                f"{desc}: {t} - {prefix} prefix tokens = {rest} is not a square grid; "
                f"give the grid: {layer}:tokens:{prefix}:HxW (or --grid HxW)")
        return Layout("tokens", prefix, (side, side))
    side = math.isqrt(t)
    p = t - side * side
    if side < 1 or p > MAX_AUTO_PREFIX_TOKENS:
        what = "auto" if auto else "tokens"
        raise LayoutError(
            f"{desc}: {what} cannot decide: the largest square grid is {side}x{side} with "
            f"{p} tokens left over (at most {MAX_AUTO_PREFIX_TOKENS} prefix tokens are "
            f"assumed); give them by hand: {layer}:tokens:P:HxW (or --prefix-tokens P "
            f"--grid HxW), or pick another layer")
    return Layout("tokens", p, (side, side))


def decide_layout(req: LayerRequest, shape: Sequence[int], family: FamilyInfo,
                  global_prefix: Optional[int] = None,
                  global_grid: Optional[Tuple[int, int]] = None) -> Layout:
    """The layout of layer `req` whose output has `shape` (batch dim first).

    Raises LayoutError, naming the layer, its shape and the choices, where the layout does not
    fit the shape or auto cannot decide.
    """
    layer = req.name
    rank = len(shape)
    layout = req.layout
    if rank not in (2, 3, 4):
        raise LayoutError(
            f"layer '{layer}' has a {rank}-D output ({fmt_shape(shape)}); net2vec takes 4-D "
            f"maps (N x K x H x W, or N x H x W x K with :nhwc), 3-D token sequences "
            f"(N x T x D, :tokens) or 2-D vectors (N x D, :vector): pick another layer")
    prefix = req.prefix if req.prefix is not None else global_prefix
    grid = req.grid if req.grid is not None else global_grid
    if layout == "auto":
        if rank == 2:
            return Layout("vector")
        if rank == 3:
            return _tokens_layout(layer, shape, prefix, grid, auto=True)
        if not family.channels_last:
            return Layout("nchw")
        counts = family.channel_counts or set()
        c_first, c_last = int(shape[1]) in counts, int(shape[3]) in counts
        if c_last and not c_first:
            return Layout("nhwc")
        if c_first and not c_last:
            return Layout("nchw")
        raise LayoutError(
            f"layer '{layer}' ({fmt_shape(shape)}) of a {family.name} model, which keeps some "
            f"maps channels-last: auto cannot tell N x K x H x W from N x H x W x K here "
            f"(dims 1 and 3 are {'both' if c_first else 'neither'} channel counts of the "
            f"model); give {layer}:nchw or {layer}:nhwc")
    expected = {"nchw": 4, "nhwc": 4, "tokens": 3, "vector": 2}[layout]
    if rank != expected:
        raise LayoutError(
            f"layer '{layer}' has a {rank}-D output ({fmt_shape(shape)}) but layout '{layout}' "
            f"needs {expected}-D; use auto or "
            + {2: "vector", 3: "tokens", 4: "nchw / nhwc"}[rank])
    if layout == "tokens":
        return _tokens_layout(layer, shape, prefix, grid, auto=False)
    return Layout(layout)


def auto_description(shape: Sequence[int], family: FamilyInfo,
                     global_prefix: Optional[int] = None,
                     global_grid: Optional[Tuple[int, int]] = None) -> Tuple[str, str]:
    """(layout, K x H x W) as --list-layers prints them; ('ambiguous' | 'unsupported', '-')
    where auto refuses."""
    try:
        lay = decide_layout(LayerRequest(name="?"), shape, family, global_prefix, global_grid)
    except LayoutError:
        return ("ambiguous" if len(shape) in (3, 4) else "unsupported", "-")
    return lay.spec(), fmt_shape(lay.map_shape(shape))


def to_nchw_reference(t: torch.Tensor, layout: Layout) -> torch.Tensor:
    """The conversion written differently from Net2VecModule.forward, for the export check."""
    if layout.kind == "nchw":
        return t
    if layout.kind == "nhwc":
        return t.permute(0, 3, 1, 2)
    if layout.kind == "tokens":
        n, _, d = t.shape
        gh, gw = layout.grid
        return t[:, layout.prefix:, :].reshape(n, gh, gw, d).permute(0, 3, 1, 2)
    return t[:, :, None, None]


class Net2VecModule(nn.Module):
    """The exported module: runs `body` (which returns a dict of raw layer outputs keyed by
    the net2vec layer names) and converts each to N x K x H x W."""

    net2vec_layers: List[str]
    net2vec_preprocessing: str
    net2vec_export: str
    layout_kinds: List[int]
    layout_prefix: List[int]
    layout_grid_h: List[int]
    layout_grid_w: List[int]

    def __init__(self, body: nn.Module, names: List[str], layouts: List[Layout],
                 preprocessing: str, export_info: str):
        super().__init__()
        self.body = body
        self.net2vec_layers = list(names)
        self.net2vec_preprocessing = preprocessing
        self.net2vec_export = export_info
        self.layout_kinds = [lay.code() for lay in layouts]
        self.layout_prefix = [lay.prefix for lay in layouts]
        self.layout_grid_h = [lay.grid[0] for lay in layouts]
        self.layout_grid_w = [lay.grid[1] for lay in layouts]

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        raw = self.body(x)
        out: Dict[str, torch.Tensor] = {}
        for i in range(len(self.net2vec_layers)):
            name = self.net2vec_layers[i]
            t = raw[name]
            kind = self.layout_kinds[i]
            if kind == 1:  # nhwc
                t = t.permute(0, 3, 1, 2)
            elif kind == 2:  # tokens: drop the prefix, token P + y*W + x -> (y, x)
                p = self.layout_prefix[i]
                t = t[:, p:, :].transpose(1, 2)
                t = t.reshape(t.size(0), t.size(1), self.layout_grid_h[i], self.layout_grid_w[i])
            elif kind == 3:  # vector
                t = t.reshape(t.size(0), t.size(1), 1, 1)
            out[name] = t.contiguous()
        return out
