#!/usr/bin/env python3
"""Export a torchvision CNN's convolutional part as a TorchScript module for net2vec.

The written module follows the contract of docs/MODELS.md:

* forward(x) takes an N x 3 x H x W float tensor, already preprocessed (see below), and
  returns a Dict[str, Tensor] with the POST-ReLU activations (N x K x h x w) of named layers;
* attribute ``net2vec_layers`` (List[str]) lists the layer names in forward order;
* attribute ``net2vec_preprocessing`` (str) is the JSON preprocessing net2vec applies to
  images: {"height", "width", "channel_order", "scale", "mean", "std"}, input =
  (pixel * scale - mean[c]) / std[c].

Only the feature extractor is exported (no classifier), so files stay small.

Layers per architecture:
  alexnet    conv1 .. conv5                        (input 227 x 227, as BRODEN broden1_227)
  vgg16      conv1_1 .. conv5_3, pool5             (input 224 x 224)
  resnet18   conv1, layer1 .. layer4               (input 224 x 224)
  googlenet  conv1, conv2, conv3, inception3a .. inception5b  (input 224 x 224)

Weights: by default torchvision's pretrained ImageNet weights, which torchvision downloads
into $TORCH_HOME/hub/checkpoints (default ~/.cache/torch/hub/checkpoints) on first use; this
needs internet access or a file already in that cache. Offline, pass --weights with a
state_dict saved by torch.save(model.state_dict(), PATH) for the same torchvision
architecture (the classifier's keys may be present; they are ignored), or use
--random-weights (for tests: same shapes, meaningless activations).

Run with Debian's Python, which has torch 1.13 and torchvision 0.14:
  /usr/bin/python3 tools/export_torchvision.py --arch alexnet --out alexnet.pt
"""

import argparse
import json
import sys
from typing import Dict, List

import torch
from torch import nn

ARCHS = ("alexnet", "vgg16", "googlenet", "resnet18")

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


class FeatureExtractor(nn.Module):
    """Runs `segments` in order; the output of segment i is the layer `names[i]`."""

    net2vec_layers: List[str]
    net2vec_preprocessing: str
    transform_input: bool

    def __init__(self, segments: List[nn.Module], names: List[str], preprocessing: dict,
                 transform_input: bool = False):
        super().__init__()
        assert len(segments) == len(names)
        self.segments = nn.ModuleList(segments)
        self.net2vec_layers = list(names)
        self.net2vec_preprocessing = json.dumps(preprocessing)
        # GoogLeNet's pretrained weights (ported from TensorFlow) expect inputs normalised to
        # [-1, 1]; torchvision converts ImageNet-normalised inputs inside the model
        # (transform_input=True). Done here too so that net2vec's preprocessing stays the
        # standard ImageNet one for every architecture.
        self.transform_input = transform_input

    def forward(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        if self.transform_input:
            x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = torch.cat((x_ch0, x_ch1, x_ch2), 1)
        out: Dict[str, torch.Tensor] = {}
        for i, segment in enumerate(self.segments):
            x = segment(x)
            out[self.net2vec_layers[i]] = x
        return out


def preprocessing_for(size: int) -> dict:
    return {
        "height": size,
        "width": size,
        "channel_order": "RGB",
        "scale": 1.0 / 255.0,
        "mean": IMAGENET_MEAN,
        "std": IMAGENET_STD,
    }


def split_sequential(features: nn.Sequential, names: List[str], name_after):
    """Cuts `features` after each module for which name_after(i, module) gives a name."""
    segments, seg_names, current = [], [], []
    for i, module in enumerate(features):
        current.append(module)
        name = name_after(i, module)
        if name is not None:
            segments.append(nn.Sequential(*current))
            seg_names.append(name)
            current = []
    assert seg_names == names, (seg_names, names)
    return segments


def build_alexnet(model) -> FeatureExtractor:
    names = ["conv1", "conv2", "conv3", "conv4", "conv5"]
    relus = [i for i, m in enumerate(model.features) if isinstance(m, nn.ReLU)]
    segments = split_sequential(
        model.features, names,
        lambda i, m: names[relus.index(i)] if i in relus else None)
    # The last max-pool (after conv5's ReLU) is not needed: it falls off the end.
    return FeatureExtractor(segments, names, preprocessing_for(227))


def build_vgg16(model) -> FeatureExtractor:
    names = []
    block, conv = 1, 0
    labels = {}
    for i, m in enumerate(model.features):
        if isinstance(m, nn.Conv2d):
            conv += 1
        elif isinstance(m, nn.ReLU):
            labels[i] = f"conv{block}_{conv}"
        elif isinstance(m, nn.MaxPool2d):
            if block == 5:
                labels[i] = "pool5"
            block, conv = block + 1, 0
    names = [labels[i] for i in sorted(labels)]
    segments = split_sequential(model.features, names, lambda i, m: labels.get(i))
    return FeatureExtractor(segments, names, preprocessing_for(224))


def build_resnet18(model) -> FeatureExtractor:
    segments = [
        nn.Sequential(model.conv1, model.bn1, model.relu),
        nn.Sequential(model.maxpool, model.layer1),
        model.layer2,
        model.layer3,
        model.layer4,
    ]
    names = ["conv1", "layer1", "layer2", "layer3", "layer4"]
    return FeatureExtractor(segments, names, preprocessing_for(224))


def build_googlenet(model) -> FeatureExtractor:
    m = model
    segments = [
        m.conv1,
        nn.Sequential(m.maxpool1, m.conv2),
        m.conv3,
        nn.Sequential(m.maxpool2, m.inception3a),
        m.inception3b,
        nn.Sequential(m.maxpool3, m.inception4a),
        m.inception4b,
        m.inception4c,
        m.inception4d,
        m.inception4e,
        nn.Sequential(m.maxpool4, m.inception5a),
        m.inception5b,
    ]
    names = ["conv1", "conv2", "conv3", "inception3a", "inception3b", "inception4a",
             "inception4b", "inception4c", "inception4d", "inception4e", "inception5a",
             "inception5b"]
    return FeatureExtractor(segments, names, preprocessing_for(224),
                            transform_input=bool(m.transform_input))


BUILDERS = {
    "alexnet": build_alexnet,
    "vgg16": build_vgg16,
    "resnet18": build_resnet18,
    "googlenet": build_googlenet,
}

PRETRAINED = {
    "alexnet": "AlexNet_Weights.IMAGENET1K_V1",
    "vgg16": "VGG16_Weights.IMAGENET1K_V1",
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "googlenet": "GoogLeNet_Weights.IMAGENET1K_V1",
}


def make_model(arch: str, random_weights: bool, weights_path, transform_input):
    import torchvision

    constructor = getattr(torchvision.models, arch)
    kwargs = {}
    if arch == "googlenet":
        # Random init needs init_weights=True (torchvision warns otherwise); no auxiliary
        # classifiers. transform_input defaults to True only for pretrained weights.
        kwargs = {"aux_logits": False, "init_weights": random_weights}
        if transform_input is not None:
            kwargs["transform_input"] = transform_input
        elif random_weights:
            kwargs["transform_input"] = False
        else:
            kwargs["transform_input"] = True
    if random_weights:
        return constructor(weights=None, **kwargs)
    if weights_path is not None:
        model = constructor(weights=None, **kwargs)
        state = torch.load(weights_path, map_location="cpu")
        if isinstance(state, nn.Module):
            state = state.state_dict()
        if arch == "googlenet":
            state = {k: v for k, v in state.items() if not k.startswith(("aux1.", "aux2."))}
        model.load_state_dict(state)
        return model
    weights = torchvision.models.get_weight(PRETRAINED[arch])
    try:
        return constructor(weights=weights, **kwargs)
    except Exception as e:  # urllib errors, missing cache, ...
        sys.exit(f"export_torchvision.py: cannot get the pretrained weights {PRETRAINED[arch]} "
                 f"({type(e).__name__}: {e}).\nThey are downloaded from {weights.url} into "
                 f"$TORCH_HOME/hub/checkpoints; without internet access put the file there, "
                 f"or pass --weights STATE_DICT.pth, or --random-weights.")


def check(path: str, extractor: FeatureExtractor):
    """Reloads the written file and checks names, order and that activations are post-ReLU."""
    loaded = torch.jit.load(path)
    names = list(loaded.net2vec_layers)
    prep = json.loads(loaded.net2vec_preprocessing)
    x = torch.randn(1, 3, prep["height"], prep["width"])
    with torch.no_grad():
        out = loaded(x)
        expected = extractor(x)
    assert list(out.keys()) == names, (list(out.keys()), names)
    shapes = []
    for name in names:
        t = out[name]
        assert t.dim() == 4, (name, t.shape)
        assert float(t.min()) >= 0.0, f"{name} has negative activations"
        assert torch.allclose(t, expected[name], atol=1e-4), f"{name} differs after reload"
        shapes.append(f"{name} {tuple(t.shape[1:])}")
    return shapes


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=("By default the pretrained ImageNet weights are fetched by torchvision (internet "
                "access or a file already in $TORCH_HOME/hub/checkpoints, default "
                "~/.cache/torch/hub/checkpoints). Offline: --weights STATE_DICT or "
                "--random-weights. See docs/MODELS.md."),
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
                             "the pretrained weights, no otherwise)")
    parser.add_argument("--no-check", action="store_true",
                        help="skip reloading the file and checking the activations")
    args = parser.parse_args(argv)

    transform_input = {"auto": None, "yes": True, "no": False}[args.transform_input]
    if args.arch == "googlenet" and transform_input is None and args.weights is not None:
        transform_input = True  # a state_dict of torchvision's googlenet is the same weights
    torch.manual_seed(0)
    model = make_model(args.arch, args.random_weights, args.weights, transform_input)
    model.eval()
    for m in model.modules():  # keep each stored activation intact
        if isinstance(m, nn.ReLU):
            m.inplace = False
    extractor = BUILDERS[args.arch](model).eval()
    scripted = torch.jit.script(extractor)
    scripted.save(args.out)
    if not args.no_check:
        shapes = check(args.out, extractor)
        print(f"wrote {args.out} ({args.arch}): " + ", ".join(shapes))
    else:
        print(f"wrote {args.out} ({args.arch})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
