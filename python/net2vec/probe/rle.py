"""COCO run-length masks, written for net2vec (Debian has no pycocotools).

A COCO RLE mask of height h and width w reads the pixels in column-major order (down the
first column, then the next) as alternating runs: `counts[0]` zeros (may be 0), then
`counts[1]` ones, then zeros, ...; the counts add up to h * w.

The compressed form ("counts" as a string) stores the same counts as characters 48..111.
Each count, from the fourth on (index > 2), is first replaced by its difference from the
count two before (the run of the same value, which is usually close). The value is then cut
into 5-bit groups, lowest first; each group is one character: 48 + group, plus 32 when more
groups follow. A group ends the value when the rest, shifted arithmetically, is 0 (group's
bit 4 clear) or -1 (bit 4 set: the value is negative and sign-extends from there).
"""

from typing import List, Sequence

import numpy as np


class RleError(ValueError):
    """A malformed RLE (the caller adds the file and the record)."""


def decode_counts(counts: Sequence[int], height: int, width: int) -> np.ndarray:
    """The bool (height, width) mask of an uncompressed RLE counts list."""
    total = height * width
    values = []
    for i, c in enumerate(counts):
        # bool is an int in Python and JSON's true would pass; a count is a plain integer.
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise RleError(f"count {i} is {c!r}, not a non-negative integer")
        values.append(c)
    s = sum(values)
    if s != total:
        raise RleError(f"the counts add up to {s}, not height x width = {height} x {width} "
                       f"= {total}")
    runs = np.asarray(values, dtype=np.int64)
    bits = np.zeros(len(runs), dtype=bool)
    bits[1::2] = True
    flat = np.repeat(bits, runs)
    return flat.reshape(width, height).T.copy()


def encode_counts(mask: np.ndarray) -> List[int]:
    """The uncompressed RLE counts of a 2-D mask (nonzero = in the mask)."""
    if mask.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    flat = np.asarray(mask, dtype=bool).T.ravel()
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(edges).tolist()
    if flat[0]:
        counts.insert(0, 0)  # runs start with zeros
    return counts


def counts_to_string(counts: Sequence[int]) -> str:
    """COCO's compressed string of an RLE counts list."""
    out = []
    for i, c in enumerate(counts):
        x = int(c)
        if i > 2:
            x -= int(counts[i - 2])
        more = True
        while more:
            group = x & 0x1F
            x >>= 5  # arithmetic: a negative value ends at -1
            more = (x != -1) if (group & 0x10) else (x != 0)
            if more:
                group |= 0x20
            out.append(chr(group + 48))
    return "".join(out)


def string_to_counts(text: str) -> List[int]:
    """The counts list of COCO's compressed string; RleError on a malformed string."""
    counts: List[int] = []
    p, n = 0, len(text)
    while p < n:
        x = k = 0
        more = True
        while more:
            if p >= n:
                raise RleError(f"the string ends inside a value (character {p})")
            code = ord(text[p]) - 48
            if not 0 <= code < 64:
                raise RleError(f"character {p} is {text[p]!r}, outside the RLE alphabet "
                               "('0' to 'o')")
            x |= (code & 0x1F) << (5 * k)
            more = bool(code & 0x20)
            p += 1
            k += 1
            if not more and (code & 0x10):
                x |= -1 << (5 * k)  # sign-extend
        if len(counts) > 2:
            x += counts[-2]
        if x < 0:
            raise RleError(f"count {len(counts)} decodes to {x}, a negative run")
        counts.append(x)
    return counts


def decode_string(text: str, height: int, width: int) -> np.ndarray:
    """The bool (height, width) mask of a compressed RLE string."""
    return decode_counts(string_to_counts(text), height, width)
