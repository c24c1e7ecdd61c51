"""Polygon rasterization: which pixels a COCO polygon covers.

The rule (docs/PROBES.md): pixel (column j, row i) covers the unit square [j, j+1) x [i, i+1)
of the image plane, so its centre is (j + 0.5, i + 0.5). The pixel is in the polygon when
its centre is inside by the even-odd rule: a ray from the centre towards +x crosses the
polygon's edges an odd number of times. Ties are decided half-open, the way the usual
crossing test does it: an edge counts for a row when min(y0, y1) <= y < max(y0, y1), and a
crossing counts when the centre lies strictly left of it. So a centre on a left or top edge is
inside and one on a right or bottom edge is outside; a box with integer corners (x0, y0),
(x1, y1) covers exactly columns x0..x1-1 and rows y0..y1-1, and two polygons sharing an
edge never both take a pixel on it. Parts of the polygon outside the image are clipped.

Arithmetic is double precision; for coordinates that doubles hold exactly (integers, halves)
the rule above is followed exactly.
"""

from typing import Sequence

import numpy as np


class PolygonError(ValueError):
    """A malformed polygon (the caller adds the file and the record)."""


def polygon_mask(coords: Sequence[float], height: int, width: int,
                 scale_x: float = 1.0, scale_y: float = 1.0) -> np.ndarray:
    """The bool (height, width) mask of one polygon [x1, y1, x2, y2, ...] (closed
    implicitly), its coordinates first multiplied by (scale_x, scale_y)."""
    n = len(coords)
    if n % 2:
        raise PolygonError(f"polygon has {n} coordinates, an odd count (x, y pairs expected)")
    try:
        pts = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise PolygonError("polygon coordinates are not all numbers") from None
    if any(isinstance(c, bool) for c in coords) or not np.all(np.isfinite(pts)):
        raise PolygonError("polygon coordinates are not all finite numbers")
    if n < 6:
        # One or two points enclose nothing: no centre is inside. COCO has such polygons
        # (tools that train on it drop them), so they are empty, not an error.
        return np.zeros((height, width), dtype=bool)
    xs = pts[:, 0] * scale_x
    ys = pts[:, 1] * scale_y
    return _even_odd(xs, ys, height, width)


def _even_odd(xs: np.ndarray, ys: np.ndarray, height: int, width: int) -> np.ndarray:
    x0, y0 = xs, ys
    x1, y1 = np.roll(xs, -1), np.roll(ys, -1)
    lo, hi = np.minimum(y0, y1), np.maximum(y0, y1)
    # Rows r whose centre r + 0.5 lies in [lo, hi): r in [ceil(lo - 0.5), ceil(hi - 0.5)).
    r_first = np.clip(np.ceil(lo - 0.5), 0, height).astype(np.int64)
    r_end = np.clip(np.ceil(hi - 0.5), 0, height).astype(np.int64)
    spans = np.maximum(r_end - r_first, 0)
    total = int(spans.sum())
    mask = np.zeros((height, width), dtype=bool)
    if total == 0:
        return mask
    edge = np.repeat(np.arange(len(xs)), spans)
    # Row of each (edge, row) pair: r_first of its edge plus its position within the span.
    starts = np.cumsum(spans) - spans
    rows = r_first[edge] + (np.arange(total) - starts[edge])
    py = rows + 0.5
    ex0, ey0, ex1, ey1 = x0[edge], y0[edge], x1[edge], y1[edge]
    # One division: exact whenever the true crossing is a double (integer or half corners).
    x_cross = ex0 + ((py - ey0) * (ex1 - ex0)) / (ey1 - ey0)
    # The crossing counts for columns j with j + 0.5 < x_cross, i.e. j < ceil(x_cross - 0.5).
    c = np.clip(np.ceil(x_cross - 0.5), 0, width).astype(np.int64)
    toggles = np.zeros((height, width + 1), dtype=np.int32)
    np.add.at(toggles, (rows, c), 1)
    # Pixel j is inside when the crossings with c > j are odd in number.
    right = np.cumsum(toggles[:, :0:-1], axis=1)[:, ::-1]
    return (right & 1).astype(bool)
