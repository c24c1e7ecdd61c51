"""Tests of net2vec.export (tools/net2vec-export): layouts against hand-built maps, error
messages, preprocessing, the capture methods, the legacy tools/export_torchvision.py, and
every torchvision family reloaded and compared with the eager model.

Run: PYTHONPATH=python /usr/bin/python3 -m unittest tests/python/test_export.py -v
or:  /usr/bin/python3 tests/python/test_export.py [-k NAME]  (exit 77 without torchvision)
"""

import json
import os
import shutil
import sys
import tempfile
import time
import unittest
import urllib.error

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_util as eu  # noqa: E402

if eu.have_torchvision():
    import torch
    import torchvision
    from torch import nn
else:  # pragma: no cover
    torch = None

SKIP = unittest.skipIf(torch is None, "python3 cannot import torch and torchvision")


def _load(path):
    return torch.jit.load(path)


def _info(module):
    return json.loads(module.net2vec_export)


class TempDirCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="n2v-export-test-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def export(self, args, name="model.pt"):
        return eu.export_model(args, self.dir, name)

    def fails(self, args, *needles, code=1, with_out=True):
        argv = list(args) + (["--out", os.path.join(self.dir, "x.pt")] if with_out else [])
        got, out, err = eu.run_export(argv)
        self.assertEqual(got, code, f"exit code for {args}:\n{out}{err}")
        for n in needles:
            self.assertIn(n, err, f"'{n}' not in the message for {args}:\n{err}")
        self.assertFalse(os.path.exists(os.path.join(self.dir, "x.pt")))
        return err


@SKIP
class LayoutTests(TempDirCase):
    """The toy modules build tokens / channels-last copies of one map by hand (a Python loop:
    token P + y*W + x <- map (y, x)); exported, each must equal the map bitwise."""

    def square(self, *extra):
        return self.export(["--module", f"{eu.TOY}:square", "--input-size", "4"] + list(extra))

    def test_nhwc_and_tokens_equal_the_map(self):
        path = self.square("--layers", "maps,nhwc:nhwc,tok0,tok1,tok5:tokens,vec")
        m = _load(path)
        self.assertEqual(list(m.net2vec_layers), ["maps", "nhwc", "tok1", "tok5", "vec", "tok0"])
        x = torch.randn(3, 3, 4, 4)
        out = m(x)
        maps = out["maps"]
        self.assertEqual(tuple(maps.shape), (3, 6, 4, 4))
        for name in ("nhwc", "tok0", "tok1", "tok5"):
            self.assertTrue(torch.equal(out[name], maps), name)
        # vector: the spatial mean as N x 6 x 1 x 1
        self.assertEqual(tuple(out["vec"].shape), (3, 6, 1, 1))
        self.assertTrue(torch.allclose(out["vec"][:, :, 0, 0], maps.mean((2, 3)), atol=1e-6))
        # the map itself is the module's conv + ReLU
        import toy_models
        ref = toy_models.square().eval()
        with torch.no_grad():
            expect = torch.relu(ref.conv(x))
        self.assertTrue(torch.allclose(maps, expect, atol=1e-6))
        layouts = {l["name"]: l["layout"] for l in _info(m)["layers"]}
        self.assertEqual(layouts["tok0"], "tokens:0:4x4")
        self.assertEqual(layouts["tok1"], "tokens:1:4x4")
        self.assertEqual(layouts["tok5"], "tokens:5:4x4")
        self.assertEqual(layouts["nhwc"], "nhwc")
        self.assertEqual(layouts["vec"], "vector")

    def test_prefix_given_by_hand(self):
        path = self.square("--layers", "maps,t5=tok5:tokens:5,t5b=tok5:tokens:5:4x4,"
                           "t1=tok1:tokens::4x4")
        out = _load(path)(torch.randn(2, 3, 4, 4))
        for name in ("t5", "t5b", "t1"):
            self.assertTrue(torch.equal(out[name], out["maps"]), name)

    def test_non_square_grid(self):
        base = ["--module", f"{eu.TOY}:wide", "--input-size", "3x5"]
        x = torch.randn(2, 3, 3, 5)
        for spec in (["--layers", "maps,tok2:tokens::3x5"],
                     ["--layers", "maps,tok2:tokens:2:3x5"],
                     ["--layers", "maps,tok2", "--grid", "3x5"],
                     ["--layers", "maps,tok2:tokens", "--grid", "3x5", "--prefix-tokens", "2"]):
            out = _load(self.export(base + spec, name="wide.pt"))(x)
            self.assertEqual(tuple(out["maps"].shape), (2, 6, 3, 5), spec)
            self.assertTrue(torch.equal(out["tok2"], out["maps"]), spec)
        # auto alone reads T = 17 as 1 prefix token + 4 x 4: a different (wrong) map
        out = _load(self.export(base + ["--layers", "maps,tok2"], name="auto.pt"))(x)
        self.assertEqual(tuple(out["tok2"].shape), (2, 6, 4, 4))

    def test_tokens_that_do_not_fit(self):
        base = ["--module", f"{eu.TOY}:wide", "--input-size", "3x5"]
        self.fails(base + ["--layers", "tok2:tokens:2"], "tok2", "not a square grid")
        self.fails(base + ["--layers", "tok2:tokens:1:3x5"], "tok2", "= 16 tokens, not 17")
        self.fails(base + ["--layers", "tok2", "--grid", "5x5"], "tok2", "5x5 grid needs 25")

    def test_ambiguous_tokens_refused(self):
        err = self.fails(["--module", f"{eu.TOY}:square", "--input-size", "4",
                          "--layers", "maps,odd35"],
                         "odd35", "1x35x6", "cannot decide", "tokens:P:HxW", "--grid")
        self.assertIn("10 tokens left over", err)

    def test_five_d_refused(self):
        self.fails(["--module", f"{eu.TOY}:square", "--input-size", "4", "--layers", "five"],
                   "'five'", "5-D", "1x6x1x4x4")

    def test_layout_rank_mismatch_refused(self):
        base = ["--module", f"{eu.TOY}:square", "--input-size", "4"]
        self.fails(base + ["--layers", "maps:tokens"], "maps", "needs 3-D")
        self.fails(base + ["--layers", "tok1:nhwc"], "tok1", "needs 4-D")
        self.fails(base + ["--layers", "vec:nchw"], "vec", "needs 4-D")

    def test_methods_agree(self):
        layers = ["--layers", "maps,nhwc:nhwc,tok1,tok5"]
        x = torch.randn(2, 3, 4, 4)
        outs = {}
        for method in ("fx-script", "fx-trace", "hooks"):
            path = self.square(*layers, "--method", method)
            m = _load(path)
            self.assertEqual(_info(m)["method"], "hooks-trace" if method == "hooks" else method)
            outs[method] = m(x)
            for name in ("nhwc", "tok1", "tok5"):
                self.assertTrue(torch.equal(outs[method][name], outs[method]["maps"]),
                                (method, name))
        for method in ("fx-trace", "hooks"):
            self.assertTrue(torch.allclose(outs[method]["maps"], outs["fx-script"]["maps"]))

    def test_hooks_need_module_names(self):
        self.fails(["--module", f"{eu.TOY}:square", "--input-size", "4", "--method", "hooks",
                    "--layers", "tok1.cat"], "tok1.cat")

    def test_inplace_after_layer_does_not_leak(self):
        # torchvision's BasicConv2d ends in F.relu(x, inplace=True): the bn output must keep
        # its negative values.
        path = self.export(["--torchvision", "googlenet", "--random-weights", "--input-size",
                            "64", "--layers", "conv1.bn,conv1"])
        out = _load(path)(torch.randn(1, 3, 64, 64))
        self.assertLess(float(out["conv1.bn"].min()), 0.0)
        self.assertTrue(torch.equal(out["conv1"], torch.relu(out["conv1.bn"])))


@SKIP
class ErrorTests(TempDirCase):
    def test_unknown_model_lists_close_names(self):
        err = self.fails(["--torchvision", "resnet05", "--random-weights", "--layers", "x"],
                         "resnet05", "did you mean", "resnet50")
        self.assertIn("list_models", err)

    def test_unknown_layer_lists_close_names(self):
        self.fails(["--torchvision", "resnet18", "--random-weights", "--input-size", "32",
                    "--layers", "layer3,layer4.1.conv3"],
                   "no layer 'layer4.1.conv3'", "layer4.1.conv2", "--list-layers")

    def test_module_file_errors(self):
        missing = os.path.join(self.dir, "nope.py")
        self.fails(["--module", f"{missing}:make", "--layers", "x"], missing, "does not exist")
        self.fails(["--module", f"{eu.TOY}:squar", "--layers", "x"],
                   "toy_models.py", "no callable 'squar'", "square")
        self.fails(["--module", f"{eu.TOY}:not_a_module", "--layers", "x"],
                   "toy_models.py:not_a_module()", "returned int", "not a torch.nn.Module")
        self.fails(["--module", f"{eu.TOY}:broken", "--layers", "x"],
                   "toy_models.py:broken()", "cannot build")
        self.fails(["--module", eu.TOY, "--layers", "x"], "FILE.py:CALLABLE")
        bad = os.path.join(self.dir, "bad.py")
        with open(bad, "w") as f:
            f.write("import no_such_module_anywhere\n")
        self.fails(["--module", f"{bad}:make", "--layers", "x"], bad, "no_such_module_anywhere")

    def test_weights_that_do_not_fit(self):
        import toy_models
        state = toy_models.square().state_dict()
        state.pop("conv.bias")
        state["extra.weight"] = torch.zeros(2)
        state["conv.weight"] = torch.zeros(6, 3, 5, 5)
        path = os.path.join(self.dir, "w.pth")
        torch.save(state, path)
        self.fails(["--module", f"{eu.TOY}:square", "--input-size", "4", "--weights", path,
                    "--layers", "maps"],
                   path, "1 missing key(s): conv.bias", "1 unexpected key(s): extra.weight",
                   "conv.weight (file 6x3x5x5, model 6x3x3x3)")
        self.fails(["--module", f"{eu.TOY}:square", "--weights",
                    os.path.join(self.dir, "none.pth"), "--layers", "maps"], "does not exist")
        with open(os.path.join(self.dir, "junk.pth"), "w") as f:
            f.write("not a checkpoint")
        self.fails(["--module", f"{eu.TOY}:square", "--weights",
                    os.path.join(self.dir, "junk.pth"), "--layers", "maps"], "cannot read")

    def test_weights_load_and_fine_tuned_classifier(self):
        import toy_models
        torch.manual_seed(11)
        other = toy_models.square()
        wrapped = {"state_dict": {"module." + k: v for k, v in other.state_dict().items()}}
        path = os.path.join(self.dir, "w.pth")
        torch.save(wrapped, path)
        m = _load(self.export(["--module", f"{eu.TOY}:square", "--input-size", "4",
                               "--weights", path, "--layers", "maps"]))
        x = torch.randn(1, 3, 4, 4)
        with torch.no_grad():
            self.assertTrue(torch.allclose(m(x)["maps"], torch.relu(other.conv(x)), atol=1e-6))
        self.assertIn("sha256", _info(m)["weights"])
        # a resnet18 fine-tuned to 10 classes: the message suggests --num-classes
        torch.manual_seed(0)
        tuned = torchvision.models.resnet18(num_classes=10)
        path = os.path.join(self.dir, "r18.pth")
        torch.save(tuned.state_dict(), path)
        base = ["--torchvision", "resnet18", "--weights", path, "--input-size", "32",
                "--layers", "layer1"]
        self.fails(base, "fc.weight (file 10x512, model 1000x512)", "--num-classes 10")
        self.export(base + ["--num-classes", "10"])

    def test_saved_module_as_weights(self):
        import toy_models
        torch.manual_seed(12)
        whole = toy_models.small()
        path = os.path.join(self.dir, "whole.pth")
        torch.save(whole, path)  # pickles toy_models.Small: importable from tests/python
        x = torch.randn(1, 3, 8, 8)
        with torch.no_grad():
            expect = torch.relu(whole.conv(x))
        for args in (["--weights", path],  # the saved module is the model
                     ["--module", f"{eu.TOY}:small", "--weights", path]):  # its state dict
            m = _load(self.export(args + ["--input-size", "8", "--layers", "relu"]))
            self.assertTrue(torch.allclose(m(x)["relu"], expect, atol=1e-6), args)
        torch.save(whole.state_dict(), os.path.join(self.dir, "state.pth"))
        self.fails(["--weights", os.path.join(self.dir, "state.pth"), "--layers", "relu"],
                   "not a saved nn.Module", "--torchvision")

    def test_pretrained_weights_offline(self):
        import torchvision.models._api as api
        saved_fn, saved_home = api.load_state_dict_from_url, os.environ.get("TORCH_HOME")

        def offline(url, *a, **k):
            raise urllib.error.URLError("no network in this test")
        api.load_state_dict_from_url = offline
        os.environ["TORCH_HOME"] = os.path.join(self.dir, "torch-home")
        try:
            err = self.fails(["--torchvision", "resnet18", "--layers", "layer1"],
                             "ResNet18_Weights.IMAGENET1K_V1", "https://download.pytorch.org/",
                             os.path.join(self.dir, "torch-home", "hub", "checkpoints"),
                             "--weights", "--random-weights")
            self.assertIn("no network in this test", err)
        finally:
            api.load_state_dict_from_url = saved_fn
            if saved_home is None:
                os.environ.pop("TORCH_HOME", None)
            else:
                os.environ["TORCH_HOME"] = saved_home

    def test_input_the_model_refuses(self):
        self.fails(["--torchvision", "vit_b_16", "--random-weights", "--input-size", "64",
                    "--layers", "conv_proj"], "1 x 3 x 64 x 64", "--input-size")

    def test_usage_errors(self):
        self.fails(["--torchvision", "resnet18", "--layers", "layer1"], code=2, with_out=False)
        self.fails(["--torchvision", "resnet18", "--layers", "layer1:diagonal"], code=2)
        self.fails(["--torchvision", "resnet18", "--layers", "layer1:nchw:3"], code=2)
        self.fails(["--torchvision", "resnet18", "--layers", "a=layer1,a=layer2"], code=2)
        self.fails(["--layers", "layer1"], code=2)
        self.fails(["--torchvision", "resnet18", "--module", "x.py:f", "--layers", "a"], code=2)


@SKIP
class PreprocessingTests(TempDirCase):
    def test_from_the_weights_transforms(self):
        name = "regnet_y_400mf"
        t = torchvision.models.get_model_weights(name).DEFAULT.transforms()
        m = _load(self.export(["--torchvision", name, "--random-weights", "--layers", "stem",
                               "--no-check"]))
        prep = json.loads(m.net2vec_preprocessing)
        self.assertEqual(prep["height"], t.crop_size[0])
        self.assertEqual(prep["width"], t.crop_size[0])
        self.assertEqual(prep["mean"], list(t.mean))
        self.assertEqual(prep["std"], list(t.std))
        self.assertAlmostEqual(prep["scale"], 1 / 255)
        self.assertEqual(prep["channel_order"], "RGB")
        self.assertNotIn("channels", prep)
        m = _load(self.export(["--torchvision", name, "--random-weights", "--layers", "stem",
                               "--input-size", "40x48", "--mean", "0.5", "--std", "0.25,0.5,1",
                               "--scale", "1", "--channel-order", "BGR"], name="b.pt"))
        prep = json.loads(m.net2vec_preprocessing)
        self.assertEqual((prep["height"], prep["width"]), (40, 48))
        self.assertEqual(prep["mean"], [0.5, 0.5, 0.5])
        self.assertEqual(prep["std"], [0.25, 0.5, 1.0])
        self.assertEqual((prep["scale"], prep["channel_order"]), (1.0, "BGR"))

    def test_one_channel_model(self):
        m = _load(self.export(["--module", f"{eu.TOY}:gray", "--input-size", "4",
                               "--layers", "maps,tok1"]))
        prep = json.loads(m.net2vec_preprocessing)
        self.assertEqual(prep["channels"], 1)
        mean = sum(a * b for a, b in zip((0.299, 0.587, 0.114), (0.485, 0.456, 0.406)))
        self.assertEqual(len(prep["mean"]), 1)
        self.assertAlmostEqual(prep["mean"][0], mean, places=6)
        self.assertEqual(len(prep["std"]), 1)
        out = m(torch.randn(2, 1, 4, 4))
        self.assertTrue(torch.equal(out["tok1"], out["maps"]))
        m = _load(self.export(["--module", f"{eu.TOY}:gray", "--input-size", "4",
                               "--layers", "maps", "--mean", "0.1307", "--std", "0.3081"],
                              name="g2.pt"))
        prep = json.loads(m.net2vec_preprocessing)
        self.assertEqual((prep["mean"], prep["std"]), ([0.1307], [0.3081]))
        self.fails(["--module", f"{eu.TOY}:gray", "--input-size", "4", "--channels", "3",
                    "--layers", "maps"], "1 x 3 x 4 x 4", "expected input")


@SKIP
class ListAndCliTests(TempDirCase):
    def test_list_layers(self):
        code, out, err = eu.run_export(["--torchvision", "resnet18", "--list-layers",
                                        "--input-size", "64"])
        self.assertEqual(code, 0, err)
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
                if line and not line.startswith("#")}
        # node names and module names, with the shape of the forward at 64 x 64
        self.assertEqual(rows["layer4.1.conv2"][:3], ["1x512x2x2", "nchw", "512x2x2"])
        self.assertEqual(rows["layer3"][0], "1x256x4x4")
        self.assertEqual(rows["fc"][:3], ["1x1000", "vector", "1000x1x1"])
        names = [line.split()[0] for line in out.splitlines() if line and line[0] != "#"]
        self.assertLess(names.index("layer1"), names.index("layer2.0.conv1"))
        # a model torch.fx cannot trace: module names with hooks; tokens decided by auto
        code, out, err = eu.run_export(["--torchvision", "vit_b_16", "--list-layers"])
        self.assertEqual(code, 0, err)
        self.assertIn("forward hooks", out)
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()
                if line and not line.startswith("#")}
        self.assertEqual(rows["encoder.layers.encoder_layer_3"][:3],
                         ["1x197x768", "tokens:1:14x14", "768x14x14"])
        # module names inside fx leaf modules are listed too (efficientnet's Conv2dNormActivation)
        code, out, err = eu.run_export(["--torchvision", "efficientnet_b0", "--list-layers",
                                        "--input-size", "32"])
        names = [line.split()[0] for line in out.splitlines() if line and line[0] != "#"]
        self.assertIn("features.0.0", names)
        self.assertLess(names.index("features.0.0"), names.index("features.0"))

    def test_leaf_internal_module_by_hooks(self):
        m = _load(self.export(["--torchvision", "efficientnet_b0", "--random-weights",
                               "--input-size", "32", "--layers", "features.0.0,features.1"]))
        self.assertEqual(_info(m)["method"], "hooks-trace")
        self.assertEqual(tuple(m(torch.randn(1, 3, 32, 32))["features.0.0"].shape),
                         (1, 32, 16, 16))

    def test_cli_script(self):
        env = dict(os.environ, PYTHONPATH="/nonexistent")
        r = eu.run_cli(["--help"], cwd="/", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        for word in ("--torchvision", "--module", "tokens[:P[:HxW]]", "--list-layers",
                     "examples:", "channels"):
            self.assertIn(word, r.stdout)
        out = os.path.join(self.dir, "cli.pt")
        r = eu.run_cli(["--module", f"{eu.TOY}:small", "--input-size", "8", "--layers", "relu",
                        "--out", out], cwd="/", env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("relu", r.stdout)
        self.assertEqual(tuple(_load(out)(torch.zeros(1, 3, 8, 8))["relu"].shape), (1, 6, 8, 8))
        r = eu.run_cli(["--torchvision", "resnet05", "--layers", "x", "--out", out], env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("resnet50", r.stderr)

    def test_legacy_wrapper_arguments(self):
        sys.path.insert(0, os.path.join(eu.REPO, "tools"))
        try:
            import export_torchvision as legacy
        finally:
            sys.path.pop(0)
        argv = legacy.translate(["--arch", "vgg16", "--random-weights", "--out", "v.pt"])
        self.assertEqual(argv[:2], ["--torchvision", "vgg16"])
        layers = argv[argv.index("--layers") + 1].split(",")
        self.assertEqual(len(layers), 14)
        self.assertEqual(layers[0], "conv1_1=features.1")
        self.assertEqual(layers[-2:], ["conv5_3=features.29", "pool5=features.30"])
        # each legacy alias names a ReLU (or pool5's max-pool) of torchvision's vgg16
        model = torchvision.models.vgg16()
        for item in layers:
            alias, node = item.split("=")
            module = model.get_submodule(node)
            expected = nn.MaxPool2d if alias == "pool5" else nn.ReLU
            self.assertIsInstance(module, expected, item)
        argv = legacy.translate(["--arch", "alexnet", "--weights", "a.pth", "--out", "a.pt"])
        self.assertEqual(argv[argv.index("--input-size") + 1], "227")
        self.assertIn("--weights", argv)


@SKIP
class FamilyTests(TempDirCase):
    """Every family exported with random weights, reloaded, 4-D, and equal to the eager model
    (forward hooks, converted by hand) on a random batch."""

    def check_family(self, name, layers, size):
        t0 = time.time()
        path = self.export(["--torchvision", name, "--random-weights", "--input-size",
                            str(size), "--layers", ",".join(layers)], name=f"{name}.pt")
        m = _load(path)
        info = _info(m)
        self.assertEqual(list(m.net2vec_layers), layers)
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():
            out = m(x)
        torch.manual_seed(0)
        ref_model = torchvision.models.get_model(name, weights=None,
                                                 **eu.torchvision_reference_kwargs(name)).eval()
        store = {}
        for layer in layers:
            ref_model.get_submodule(layer).register_forward_hook(
                lambda _m, _i, o, layer=layer: store.__setitem__(layer, o.clone()))
        with torch.no_grad():
            ref_model(x)
        for layer, desc in zip(layers, info["layers"]):
            got, ref = out[layer], store[layer]
            self.assertEqual(got.dim(), 4, layer)
            if ref.dim() == 3:  # class token + 14 x 14 grid, by hand
                self.assertEqual(desc["layout"], "tokens:1:14x14")
                n, _, d = ref.shape
                grid = torch.empty(n, d, 14, 14)
                for y in range(14):
                    for xx in range(14):
                        grid[:, :, y, xx] = ref[:, 1 + y * 14 + xx, :]
                ref = grid
            elif name == "swin_t":
                self.assertEqual(desc["layout"], "nhwc")
                ref = ref.permute(0, 3, 1, 2)
            else:
                self.assertEqual(desc["layout"], "nchw")
            self.assertEqual(got.shape, ref.shape, layer)
            scale = max(1.0, float(ref.abs().max()))
            self.assertTrue(torch.allclose(got, ref, rtol=1e-4, atol=1e-5 * scale),
                            f"{name} {layer}: max diff {float((got - ref).abs().max())}")
        print(f"  {name}: {', '.join(f'{l} {tuple(out[l].shape[1:])}' for l in layers)}, "
              f"{info['method']}, {os.path.getsize(path) / 1e6:.1f} MB, {time.time() - t0:.1f} s",
              file=sys.stderr)


def _family_test(name, layers, size):
    def test(self):
        self.check_family(name, layers, size)
    return test


for _name, _layers, _size in eu.FAMILIES:
    setattr(FamilyTests, f"test_{_name}", _family_test(_name, _layers, _size))


if __name__ == "__main__":
    if torch is None:
        print("tests/python/test_export.py: python3 cannot import torch and torchvision "
              "(apt-get install python3-torchvision): skipped")
        sys.exit(77)
    unittest.main()
