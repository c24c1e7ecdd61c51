"""Small nn.Modules for tests/python/test_export.py, loaded with --module toy_models.py:NAME.

Layouts carries one map (N x 6 x H x W) in several layouts, each built BY HAND from the map:
channels-last by a permute, token sequences by a Python loop that puts map position (y, x)
at token P + y*W + x after P prefix tokens. Exported through net2vec.export, every one of
them must come back equal (bitwise) to the map itself.
"""

import torch
from torch import nn


class Permute(nn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class HandTokens(nn.Module):
    """N x K x H x W -> N x (P + H*W) x K: P prefix tokens (learned, like a class token), then
    position (y, x) of the map as token P + y*W + x."""

    def __init__(self, k, prefix, h, w):
        super().__init__()
        self.prefix, self.h, self.w = prefix, h, w
        self.prefix_tokens = nn.Parameter(torch.randn(1, max(prefix, 1), k))

    def forward(self, m):
        columns = []
        for y in range(self.h):
            for x in range(self.w):
                columns.append(m[:, :, y, x])
        tokens = torch.stack(columns, dim=1)
        if self.prefix > 0:
            prefix = self.prefix_tokens[:, : self.prefix, :].expand(m.shape[0], -1, -1)
            tokens = torch.cat([prefix, tokens], dim=1)
        return tokens


class Flatten(nn.Module):
    def forward(self, x):
        return torch.flatten(x, 1)


class Unsqueeze(nn.Module):
    def forward(self, x):
        return x.unsqueeze(2)


class Repeat35(nn.Module):
    """N x 16 x K tokens -> N x 35 x K: no square grid with at most 8 prefix tokens."""

    def forward(self, t):
        return torch.cat([t, t, t[:, :3]], dim=1)


class Layouts(nn.Module):
    def __init__(self, h, w, prefixes, channels=3):
        super().__init__()
        self.conv = nn.Conv2d(channels, 6, 3, padding=1)
        self.maps = nn.ReLU()
        self.nhwc = Permute(0, 2, 3, 1)
        self.prefixes = list(prefixes)
        for p in self.prefixes:
            self.add_module(f"tok{p}", HandTokens(6, p, h, w))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.vec = Flatten()
        self.five = Unsqueeze()
        self.square = h == w == 4 and 0 in self.prefixes
        if self.square:
            self.odd35 = Repeat35()

    def forward(self, x):
        m = self.maps(self.conv(x))
        total = self.nhwc(m).sum()
        for p in self.prefixes:
            total = total + getattr(self, f"tok{p}")(m).sum()
        total = total + self.vec(self.pool(m)).sum() + self.five(m).sum()
        if self.square:
            total = total + self.odd35(self.tok0(m)).sum()
        return total


def square():
    """Input 4 x 4: maps 6 x 4 x 4; tok0, tok1, tok5 (T = 16, 17, 21); nhwc; vec; five (5-D);
    odd35 (3-D, T = 35)."""
    torch.manual_seed(3)
    return Layouts(4, 4, prefixes=(0, 1, 5))


def wide():
    """Input 3 x 5: maps 6 x 3 x 5; tok2 (T = 17: auto would read it as 1 + 4 x 4)."""
    torch.manual_seed(4)
    return Layouts(3, 5, prefixes=(2,))


def gray():
    """A one-channel network (input N x 1 x 4 x 4)."""
    torch.manual_seed(5)
    return Layouts(4, 4, prefixes=(1,), channels=1)


class Small(nn.Module):
    def __init__(self, k=6):
        super().__init__()
        self.conv = nn.Conv2d(3, k, 3, padding=1)
        self.relu = nn.ReLU()
        self.head = nn.Linear(k, 2)

    def forward(self, x):
        m = self.relu(self.conv(x))
        return self.head(m.mean((2, 3)))


def small():
    return Small()


def not_a_module():
    return 42


def broken():
    raise RuntimeError("cannot build")


class ToyNetLayouts(nn.Module):
    """The toy network of tests/support/toy_fixture.cpp (layer "features": 4 x 4 average
    pooling -> red, green, blue, 1 - red on an 8 x 8 map), its map also given as a token
    sequence with 2 prefix tokens (module tok: N x 66 x 4) and channels-last (module hwc)."""

    def __init__(self):
        super().__init__()
        self.maps = nn.Identity()
        self.hwc = Permute(0, 2, 3, 1)
        self.tok = HandTokens(4, 2, 8, 8)

    def forward(self, x):
        p = torch.nn.functional.avg_pool2d(x, [4, 4])
        r = p[:, 0:1]
        m = self.maps(torch.cat([r, p[:, 1:2], p[:, 2:3], 1.0 - r], 1))
        return self.hwc(m).sum() + self.tok(m).sum()


def toy_net():
    torch.manual_seed(6)
    return ToyNetLayouts()
