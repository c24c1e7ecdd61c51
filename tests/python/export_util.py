"""Helpers for tests that export models with net2vec.export (python/net2vec/export.py).

    from export_util import export_model, run_export, FAMILIES
    path = export_model(["--torchvision", "resnet18", "--random-weights",
                         "--layers", "layer3", "--input-size", "64"], out_dir)

export_model runs the exporter in this process (torch is imported once for the whole test
run) and returns the written file; run_export returns (exit code, stdout, stderr) for the
error cases; run_cli runs tools/net2vec-export as a subprocess.
"""

import contextlib
import io
import os
import subprocess
import sys
import tempfile
from typing import List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PYTHON_DIR = os.path.join(REPO, "python")
TOOL = os.path.join(REPO, "tools", "net2vec-export")
TOY = os.path.join(HERE, "toy_models.py")

if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

#: The torchvision families every export test covers: (name, layers, input size used by the
#: tests). Sizes are the smallest the tests need to stay fast; vit_b_16 only runs at 224.
FAMILIES: List[Tuple[str, List[str], int]] = [
    ("alexnet", ["features.11"], 64),
    ("vgg16", ["features.29", "features.30"], 32),
    ("resnet18", ["layer3", "layer4"], 32),
    ("resnet50", ["layer2"], 32),
    ("googlenet", ["inception4a"], 64),
    ("densenet121", ["features.denseblock2"], 32),
    ("convnext_tiny", ["features.1", "features.3"], 32),
    ("efficientnet_b0", ["features.4"], 32),
    ("mobilenet_v3_large", ["features.6"], 32),
    ("regnet_y_400mf", ["trunk_output.block2"], 32),
    ("swin_t", ["features.1", "features.3"], 64),
    ("vit_b_16", ["encoder.layers.encoder_layer_0"], 224),
]


def have_torchvision() -> bool:
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        return False
    return True


def run_export(argv: Sequence[str]) -> Tuple[int, str, str]:
    """net2vec.export.main(argv) in this process: (exit code, stdout, stderr)."""
    from net2vec import export

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = export.main(list(argv))
    return code, out.getvalue(), err.getvalue()


def export_model(args: Sequence[str], out_dir: Optional[str] = None,
                 name: str = "model.pt") -> str:
    """Exports with `args` (without --out) into out_dir (a new temporary folder if None) and
    returns the file's path; raises AssertionError with the tool's messages on failure."""
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="net2vec-export-")
    path = os.path.join(out_dir, name)
    code, out, err = run_export(list(args) + ["--out", path])
    if code != 0 or not os.path.isfile(path):
        raise AssertionError(f"net2vec-export {' '.join(args)} failed ({code}):\n{out}{err}")
    return path


def run_cli(argv: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    """tools/net2vec-export as a subprocess (text output captured)."""
    return subprocess.run([TOOL] + list(argv), capture_output=True, text=True, **kwargs)


def torchvision_reference_kwargs(name: str) -> dict:
    """The constructor arguments net2vec.export uses for --random-weights."""
    if name in ("googlenet", "inception_v3"):
        return {"aux_logits": False, "init_weights": True, "transform_input": False}
    return {}
