#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets (tests/fuzz/corpus/<target>/seed_*) from the
real files of this machine: broden-mini rows and masks (data/demo, written by tools/run-demo),
WordNet 3.0 lines (Debian wordnet-base, /usr/share/wordnet), GloVe 100d lines
(data/demo/glove.6B.100d.txt), the converted nsfwjs networks (data/demo/models), the service
tests' golden requests (tests/service/golden). Each seed stays under 64 KiB. The committed
corpus is these seeds merged with what fuzzing found (tools/run-fuzz --merge); rerunning this
script only rewrites the seed_* files.

    /usr/bin/python3 tests/fuzz/make_seeds.py [--demo data/demo]
"""
import argparse
import io
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
LIMIT = 64 * 1024


def put(target, name, data):
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < LIMIT, (target, name, len(data))
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def lines(path, n=None):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        out = f.read().splitlines(keepends=True)
    return out if n is None else out[:n]


def probe_seeds(demo):
    mini = os.path.join(demo, "broden-mini-224")
    index = lines(os.path.join(mini, "index.csv"))
    put("index_csv", "rows_0_3", "".join(index[:4]))
    put("index_csv", "rows_0_40", "".join(index[:41]))
    put("index_csv", "rows_0_3_crlf_bom", "\ufeff" + "".join(l.rstrip("\n") + "\r\n" for l in index[:4]))
    # BRODEN's own layout: whole-image labels (scene, texture) as numbers next to masks.
    put("index_csv", "broden_layout",
        "image,split,ih,iw,sh,sw,color,object,part,material,scene,texture\n"
        "mini/000000.jpg,train,224,224,112,112,mini/000000_color.png,mini/000000_object.png,,,0,1;2\n"
        "mini/000001.jpg,val,224,224,112,112,mini/000001_color.png,mini/000001_object.png,,mini/000001_material.png,,\n")
    label = lines(os.path.join(mini, "label.csv"))
    put("label_csv", "full", "".join(label))
    put("label_csv", "first_20", "".join(label[:21]))
    put("label_csv", "multi_category",
        "number,name,category,frequency,coverage,syns\n1,black-c,color(1999),1999,309.777583,\n"
        "2,blue-c,color(1432);object(3),1432,126.394770,navy;azure\n12,abalone,object,51,4.836974,\n"
        "212,brick,material(212),212,151.500239,\n")
    put("category_csv", "full", "".join(lines(os.path.join(mini, "category.csv"))))
    put("category_csv", "broden_doc", "name,first,last,count,frequency\ncolor,1,11,11,2000\n"
        "binaryclassification,,,2,76574\nobject,12,211,200,2000\nmaterial,212,214,3,700\n")
    images = sorted(os.listdir(os.path.join(mini, "images", "mini")))
    masks = [m for m in images if m.endswith(".png")][:9]
    for m in masks:
        put("mask_png", m.replace(".png", ""), open(os.path.join(mini, "images", "mini", m), "rb").read())
    photos = [m for m in images if m.endswith(".jpg")]
    kept = 0
    for m in photos:
        data = open(os.path.join(mini, "images", "mini", m), "rb").read()
        if len(data) < 24 * 1024 and kept < 3:
            put("image", m.replace(".jpg", ""), data)
            kept += 1
    # The same photo, small, in the other layouts stb reads (Debian python3-pil).
    try:
        from PIL import Image
    except ImportError:
        return
    photo = Image.open(os.path.join(mini, "images", "mini", photos[0])).convert("RGB").resize((24, 24))
    variants = [("png_rgb", photo, "PNG", {}), ("png_grey", photo.convert("L"), "PNG", {}),
                ("png_rgba", photo.convert("RGBA"), "PNG", {}), ("png_palette", photo.convert("P"), "PNG", {}),
                ("jpeg_baseline", photo, "JPEG", {"quality": 80}),
                ("jpeg_progressive", photo, "JPEG", {"quality": 80, "progressive": True}),
                ("jpeg_grey", photo.convert("L"), "JPEG", {}), ("bmp", photo, "BMP", {}),
                ("gif", photo.convert("P"), "GIF", {}), ("tga", photo, "TGA", {}), ("ppm", photo, "PPM", {})]
    for name, img, fmt, kw in variants:
        buf = io.BytesIO()
        img.save(buf, fmt, **kw)
        put("image", name, buf.getvalue())
    grey = Image.open(os.path.join(mini, "images", "mini", masks[0])).convert("L")
    buf = io.BytesIO()
    grey.save(buf, "PNG")
    put("mask_png", "grey", buf.getvalue())
    buf = io.BytesIO()
    Image.open(os.path.join(mini, "images", "mini", masks[0])).convert("L").convert("I").save(buf, "PNG")
    put("mask_png", "sixteen_bit", buf.getvalue())


def wordnet_seeds(wndir, overrides_path):
    index = {}
    for l in lines(os.path.join(wndir, "index.noun")):
        index.setdefault(l.split(" ", 1)[0], l)
    data = {}
    with open(os.path.join(wndir, "data.noun"), "rb") as f:
        raw = f.read()
    header = []
    for l in raw.decode("utf-8", "surrogateescape").splitlines(keepends=True):
        if l.startswith("  "):
            if len(header) < 3:
                header.append(l)
            continue
        data[l[:8]] = l

    def closure(offsets):
        seen, stack = set(), list(offsets)
        while stack:
            o = stack.pop()
            if o in seen:
                continue
            seen.add(o)
            f = data[o].split("|")[0].split()
            i = 4 + 2 * int(f[3], 16)
            for p in range(int(f[i])):
                sym, target, pos = f[i + 1 + 4 * p: i + 4 + 4 * p]
                if pos == "n" and sym in ("@", "@i"):
                    stack.append(target)
        return sorted(seen)

    exc = lines(os.path.join(wndir, "noun.exc"))
    overrides = [l for l in lines(overrides_path) if l.strip() and not l.startswith("#")]
    for name, words in [("dog_car", ["dog", "car"]), ("lime_colours", ["lime", "red", "blue"]),
                        ("person_instance", ["person", "einstein"])]:
        idx = [index[w] for w in words]
        offsets = [o for l in idx for o in l.split()[-int(l.split()[2]):]]
        syn = [data[o] for o in closure(offsets)]
        text = "".join(header + syn) + "====\n" + "".join(idx) + "====\n" + "".join(
            e for e in exc if e.split()[1] in words)[:400] + "mice mouse\n" + "====\n" + "".join(
            o for o in overrides if o.split("\t")[0] in words)
        if len(text) < LIMIT:
            put("wndb", name, text)
    # An override naming a synset of the seed.
    first = index["dog"].split()[-7]
    put("wndb", "override", "".join(header + [data[o] for o in closure([first])]) + "====\n" + index["dog"] +
        "====\n====\n# comment\ndog\t" + first + "\tdog\tthe animal\nhound-c\tn" + first + "\n")


def vector_seeds(glove):
    rows = lines(glove, 6)
    text = "".join(rows)
    put("word_vectors", "glove_auto", b"\x00" + text.encode())
    put("word_vectors", "glove_text", b"\x02" + text.encode())
    dim = len(rows[0].split()) - 1
    put("word_vectors", "word2vec_text", b"\x00" + ("%d %d\n" % (len(rows), dim)).encode() + text.encode())
    # word2vec binary (GoogleNews layout): "count dim\n", then word, space, dim float32 LE
    # and '\n' (the C tool) or nothing (gensim).
    for name, nl in [("word2vec_binary_c", b"\n"), ("word2vec_binary_gensim", b"")]:
        out = ("%d %d\n" % (len(rows), dim)).encode()
        for r in rows:
            f = r.split()
            out += f[0].encode() + b" " + struct.pack("<%df" % dim, *map(float, f[1:])) + nl
        put("word_vectors", name, b"\x01" + out)
        put("word_vectors", name + "_auto", b"\x00" + out)


def safetensors_bytes(header, data):
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + data


def model_seeds(models):
    for fname, layers_kept in [("nsfwjs_mobilenet_v2.safetensors", 30), ("nsfwjs_inception_v3.safetensors", 45)]:
        path = os.path.join(models, fname)
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            meta = header["__metadata__"]
            config = json.loads(meta["keras_model_config"])
            config["config"]["layers"] = config["config"]["layers"][:layers_kept]
            names = [l["name"] for l in config["config"]["layers"]]
            config["config"]["output_layers"] = [[names[-1], 0, 0]]
            short = json.dumps(config, separators=(",", ":"))
            stem = fname.split(".")[0]
            put("keras_topology", stem + "_first_layers", short)
            # A small file of the converted layout: the real metadata keys (a shortened
            # topology) and the first tensors with their real bytes.
            tensors = sorted(((k, v) for k, v in header.items() if k != "__metadata__"),
                             key=lambda kv: kv[1]["data_offsets"][0])
            out_header, blob = {"__metadata__": dict(meta, keras_model_config=short)}, b""
            for k, v in tensors:
                b, e = v["data_offsets"]
                if len(blob) + e - b > 24 * 1024:
                    break
                f.seek(8 + n + b)
                chunk = f.read(e - b)
                out_header[k] = {"dtype": v["dtype"], "shape": v["shape"], "data_offsets": [len(blob), len(blob) + len(chunk)]}
                blob += chunk
            put("safetensors", stem + "_head", safetensors_bytes(out_header, blob))
    put("safetensors", "empty", safetensors_bytes({}, b""))
    put("safetensors", "dtypes", safetensors_bytes(
        {"__metadata__": {"format": "pt"}, "a": {"dtype": "U8", "shape": [2, 3], "data_offsets": [0, 6]},
         "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]},
         "c": {"dtype": "I64", "shape": [], "data_offsets": [16, 24]}}, bytes(range(24))))
    # Small weight-free graphs: they load completely (every op's shape rule, then the graph).
    def layer(name, cls, inbound, **config):
        return {"name": name, "class_name": cls, "config": dict(config, name=name),
                "inbound_nodes": [[[i, 0, 0, {}] for i in inbound]] if inbound else []}
    graph = [layer("in", "InputLayer", [], batch_input_shape=[None, 32, 32, 3]),
             layer("pad", "ZeroPadding2D", ["in"], padding=[[1, 2], [0, 1]]),
             layer("relu6", "ReLU", ["pad"], max_value=6.0),
             layer("pool", "MaxPooling2D", ["relu6"], pool_size=[3, 3], strides=[2, 2], padding="same"),
             layer("avg", "AveragePooling2D", ["relu6"], pool_size=[3, 3], strides=[2, 2], padding="same"),
             layer("add", "Add", ["pool", "avg"]),
             layer("cat", "Concatenate", ["pool", "add"], axis=-1),
             layer("act", "Activation", ["cat"], activation="sigmoid"),
             layer("drop", "Dropout", ["act"], rate=0.5),
             layer("gap", "GlobalAveragePooling2D", ["drop"]),
             layer("flat", "Flatten", ["drop"])]
    put("keras_topology", "weight_free_graph", json.dumps({"class_name": "Functional", "config": {"layers": graph}}))
    dense = graph[:3] + [layer("conv", "Conv2D", ["relu6"], filters=4, kernel_size=[3, 3], padding="same", use_bias=True),
                         layer("dw", "DepthwiseConv2D", ["conv"], kernel_size=[3, 3], depth_multiplier=2),
                         layer("bn", "BatchNormalization", ["dw"], axis=[3], epsilon=1e-3),
                         layer("gmp", "GlobalMaxPooling2D", ["bn"]),
                         layer("fc", "Dense", ["gmp"], units=5, activation="softmax")]
    put("keras_topology", "weighted_graph", json.dumps({"class_name": "Model", "config": {"layers": dense}}))


def http_seeds():
    golden = os.path.join(ROOT, "tests", "service", "golden")
    def request(method, target, body="", ctype="application/json"):
        head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n" % (method, target)
        if body:
            head += "Content-Type: %s\r\nContent-Length: %d\r\n" % (ctype, len(body.encode()))
        return head + "\r\n" + body
    for g in sorted(os.listdir(golden)):
        case = json.load(open(os.path.join(golden, g)))["http"]
        put("http_request", g.replace(".json", ""), request(case["method"], case["target"], case.get("body", "")))
        if case.get("body"):
            put("analogy_json", g.replace(".json", ""), case["body"])
    for name, target in [("health", "/api/health"), ("openapi", "/api/openapi.json"),
                         ("concept_images", "/api/concepts/dog/images?space=toynet.conv.seg&limit=3"),
                         ("analyses", "/api/analyses?space=toynet.conv.seg"),
                         ("map", "/api/map?space=othernet.fc.seg&perplexity=5&iterations=250&seed=1&clusters=3"),
                         ("export_npy", "/api/export?space=wordnet&format=npy&normalize=true"),
                         ("vector", "/api/neighbors?space=othernet.fc.seg&vector=" + ",".join(["0.5"] * 32) + "&k=3"),
                         ("probe_image", "/api/probe/image?space=toynet.conv.seg&row=0"),
                         ("probe_mask", "/api/probe/mask?space=toynet.conv.seg&row=0&concept=dog"),
                         ("static_index", "/"), ("static_js", "/js/app.js"),
                         ("escaped", "/api/concepts/traffic%20light?space=wordnet"),
                         ("traversal", "/%2e%2e/%2e%2e/etc/passwd")]:
        put("http_request", name, request("GET", target))
    put("http_request", "keep_alive_two", request("GET", "/api/health") + request("HEAD", "/api/spaces"))
    put("http_request", "chunked", "POST /api/analogy HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n10\r\n{\"space\": \"wordn\r\n2c\r\net\", \"positive\": [\"dog\"], \"negative\": []}\r\n0\r\n\r\n")
    put("http_request", "method_not_allowed", request("DELETE", "/api/spaces"))
    put("analogy_json", "mul_category", '{"space": "othernet.fc.seg", "positive": ["lime", "yellow-c"], '
        '"negative": ["green-c"], "k": 2, "method": "mul", "category": "object"}')
    put("analogy_json", "wordnet", '{"space": "wordnet", "positive": ["dog"], "negative": [], "k": 3}')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--demo", default=os.path.join(ROOT, "data", "demo"))
    p.add_argument("--wordnet", default="/usr/share/wordnet")
    a = p.parse_args()
    probe_seeds(a.demo)
    wordnet_seeds(a.wordnet, os.path.join(ROOT, "data", "wordnet_overrides.tsv"))
    vector_seeds(os.path.join(a.demo, "glove.6B.100d.txt"))
    model_seeds(os.path.join(a.demo, "models"))
    http_seeds()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(OUT) for f in fs)
    print("seeds written under %s (%d bytes in the corpus)" % (OUT, total))


if __name__ == "__main__":
    sys.exit(main())
