#!/usr/bin/env python3
"""Export one of four torchvision CNNs with net2vec's historical layer names (compatibility).

This is a thin wrapper over tools/net2vec-export (python/net2vec/export.py), which exports
any torchvision model or nn.Module with the model's own layer names (see docs/MODELS.md).
`--arch X` keeps the layer names that docs/BRODEN.md and the tests use, as aliases of the
model's torch.fx nodes, all post-ReLU:

  alexnet    conv1 .. conv5                        (input 227 x 227, as BRODEN broden1_227)
  vgg16      conv1_1 .. conv5_3, pool5             (input 224 x 224)
  resnet18   conv1, layer1 .. layer4               (input 224 x 224)
  googlenet  conv1, conv2, conv3, inception3a .. inception5b  (input 224 x 224)

The same with the new tool, e.g.:
  tools/net2vec-export --torchvision alexnet --input-size 227 \\
      --layers conv1=features.1,conv2=features.4,conv3=features.7,conv4=features.9,conv5=features.11 \\
      --out alexnet.pt

Weights: by default torchvision's pretrained ImageNet weights (downloaded into
$TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints: internet access or the
file already there); offline, --weights STATE_DICT or --random-weights.

Run with Debian's Python, which has torch 1.13 and torchvision 0.14:
  /usr/bin/python3 tools/export_torchvision.py --arch alexnet --out alexnet.pt
"""

import argparse
import os
import sys

ARCHS = ("alexnet", "vgg16", "googlenet", "resnet18")


def _vgg16_layers():
    # features: conv/ReLU pairs, a max-pool after each block; the names follow the blocks.
    layers, idx = [], 0
    for block, convs in enumerate((2, 2, 3, 3, 3), start=1):
        for conv in range(1, convs + 1):
            layers.append(f"conv{block}_{conv}=features.{idx + 1}")  # the ReLU after the conv
            idx += 2
        if block == 5:
            layers.append(f"pool5=features.{idx}")
        idx += 1
    return layers


LEGACY = {
    "alexnet": (227, ["conv1=features.1", "conv2=features.4", "conv3=features.7",
                      "conv4=features.9", "conv5=features.11"]),
    "vgg16": (224, _vgg16_layers()),
    # conv1: after bn1 + relu; layerN: the last block's final ReLU.
    "resnet18": (224, ["conv1=relu", "layer1", "layer2", "layer3", "layer4"]),
    # BasicConv2d blocks and inception concatenations end in ReLUs.
    "googlenet": (224, ["conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a",
                        "inception4b", "inception4c", "inception4d", "inception4e",
                        "inception5a", "inception5b"]),
}


def translate(argv=None):
    """The net2vec-export arguments for this tool's arguments."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Everything else (any model, any layer, layouts): tools/net2vec-export --help.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True, choices=ARCHS)
    parser.add_argument("--out", required=True, help="TorchScript file to write (.pt)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--random-weights", action="store_true",
                       help="random initialisation (tests; no download)")
    group.add_argument("--weights", metavar="STATE_DICT",
                       help="a torch.save()d state_dict of the torchvision model")
    parser.add_argument("--transform-input", choices=("auto", "yes", "no"), default="auto",
                        help="googlenet only: convert ImageNet-normalised input to the [-1, 1] "
                             "range of the original weights inside the module (auto: yes for "
                             "the pretrained weights and --weights, no for --random-weights)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip reloading the file and checking the activations")
    args = parser.parse_args(argv)
    size, layers = LEGACY[args.arch]
    out = ["--torchvision", args.arch, "--layers", ",".join(layers),
           "--input-size", str(size), "--out", args.out,
           "--transform-input", args.transform_input]
    if args.random_weights:
        out.append("--random-weights")
    if args.weights:
        out += ["--weights", args.weights]
    if args.no_check:
        out.append("--no-check")
    return out


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(os.path.dirname(here), "python"))
    from net2vec import export  # noqa: E402 - after the path is set

    return export.main(translate(argv))


if __name__ == "__main__":
    sys.exit(main())
