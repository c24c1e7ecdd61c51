"""Image and mask files: PIL for decoding and encoding, numpy for the pixels."""

import os
import shutil
import warnings
from typing import Tuple

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import EXIT_INVALID, EXIT_IO, ProbeError, not_found

# What net2vec's reader (stb) decodes: an image in one of these, in a plain mode, is copied
# byte for byte when it keeps its size.
_COPYABLE = {"JPEG": ("L", "RGB"), "PNG": ("L", "RGB", "RGBA", "P", "LA")}

# Decompression bombs are refused by PIL above ~179 Mpixel; annotation sets never come near.
Image.MAX_IMAGE_PIXELS = 200_000_000


def open_image(path: str, where: str) -> Image.Image:
    """The decoded image at path; ProbeError naming path and `where` (the record) if it is
    missing or not an image PIL can read."""
    if not os.path.isfile(path):
        raise not_found(f"{path}: image not found ({where})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path)
            im.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError,
            Image.DecompressionBombWarning, Image.DecompressionBombError) as e:
        raise ProbeError(f"{path}: cannot decode the image ({where}): {e}") from None
    return im


def nearest(arr: np.ndarray, height: int, width: int) -> np.ndarray:
    """arr (H, W) sampled at the centres of a height x width grid: output pixel (i, j) takes
    input pixel (floor((i + 0.5) * H / height), floor((j + 0.5) * W / width))."""
    h, w = arr.shape[:2]
    if (h, w) == (height, width):
        return arr
    rows = ((2 * np.arange(height) + 1) * h) // (2 * height)
    cols = ((2 * np.arange(width) + 1) * w) // (2 * width)
    return arr[rows][:, cols]


def output_ext(im: Image.Image, source: str, size: Tuple[int, int]) -> Tuple[str, bool]:
    """(extension, copy): how `im` (decoded from `source`) is stored at size (height, width):
    copied byte for byte when net2vec reads it as it is and it keeps its size, else
    re-encoded (JPEG stays JPEG, anything else becomes PNG)."""
    ext = os.path.splitext(source)[1]
    fmt = im.format
    if (im.height, im.width) == tuple(size) and fmt in _COPYABLE and \
            im.mode in _COPYABLE[fmt] and ext.lower() in (".jpg", ".jpeg", ".png"):
        return ext, True
    return (".jpg" if fmt == "JPEG" else ".png"), False


def save_image(im: Image.Image, source: str, dest: str, size: Tuple[int, int]) -> None:
    """Writes `im` to dest (its extension from output_ext), resized to size (height, width)
    with bilinear filtering when that differs."""
    height, width = size
    ext, copy = output_ext(im, source, size)
    try:
        if copy:
            shutil.copyfile(source, dest)
            return
        rgb = im.convert("RGB")
        if (rgb.height, rgb.width) != (height, width):
            rgb = rgb.resize((width, height), Image.BILINEAR)
        if ext == ".jpg":
            rgb.save(dest, "JPEG", quality=95)
        else:
            rgb.save(dest, "PNG")
    except OSError as e:
        raise ProbeError(f"{dest}: cannot write the image: {e}", EXIT_IO) from None


def write_label_png(path: str, labels: np.ndarray) -> None:
    """A mask PNG as BRODEN codes it: 8-bit RGB with label = R + 256 * G."""
    v = labels.astype(np.uint32)
    rgb = np.zeros(labels.shape + (3,), dtype=np.uint8)
    rgb[..., 0] = v & 0xFF
    rgb[..., 1] = (v >> 8) & 0xFF
    try:
        Image.fromarray(rgb, "RGB").save(path, "PNG")
    except OSError as e:
        raise ProbeError(f"{path}: cannot write the mask: {e}", EXIT_IO) from None


def read_label_png(path: str, where: str) -> np.ndarray:
    """The labels (int32) of a BRODEN mask PNG: R + 256 * G, or the grey value of a grey
    PNG, as net2vec reads them."""
    im = open_image(path, where)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        raise ProbeError(f"{path}: a 16-bit mask PNG ({where}); BRODEN masks are 8-bit RGB "
                         "with label = R + 256*G")
    if im.mode in ("L", "1", "P", "LA"):
        if im.mode == "P":
            im = im.convert("RGB")
        else:
            return np.asarray(im.convert("L"), dtype=np.int32)
    a = np.asarray(im.convert("RGB"), dtype=np.int32)
    return a[..., 0] + 256 * a[..., 1]


def read_class_png(path: str, where: str) -> np.ndarray:
    """The class ids of a label-map PNG (one id a pixel: 8-bit grey, palette indices or 16-bit
    grey). Colour PNGs are refused: their colours are not ids."""
    im = open_image(path, where)
    if im.mode in ("L", "P", "1"):
        return np.asarray(im, dtype=np.int32)
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.int64)
        return a.astype(np.int32)
    raise ProbeError(f"{path}: a {im.mode} mask ({where}): label-map masks hold one class id "
                     "a pixel (8-bit grey, palette or 16-bit grey PNG); colour-coded masks must "
                     "first be mapped to ids", EXIT_INVALID)
