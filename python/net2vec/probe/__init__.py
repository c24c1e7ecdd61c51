"""net2vec.probe: your own concepts as a probe set in BRODEN's layout (docs/PROBES.md).

    tools/net2vec-probe coco --annotations instances.json --images DIR --out PROBE
    tools/net2vec-probe labelmap --masks DIR --labels labels.csv --images DIR --out PROBE
    tools/net2vec-probe folders --root DIR --out PROBE
    tools/net2vec-probe merge PROBE1 PROBE2 --out PROBE

Needs numpy and PIL (Debian: python3-numpy, python3-pil) and nothing else: COCO's RLE
(rle.py) and polygons (polygon.py) are decoded here, without pycocotools.
"""

from .errors import ProbeError
from .polygon import polygon_mask
from .rle import counts_to_string, decode_counts, decode_string, encode_counts, string_to_counts

__all__ = ["ProbeError", "polygon_mask", "counts_to_string", "decode_counts", "decode_string",
           "encode_counts", "string_to_counts"]
