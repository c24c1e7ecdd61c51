#!/usr/bin/env node
// Reference activations for the fidelity test of net2vec's built-in Keras networks
// (tests/model_keras): runs the nsfwjs package itself (nsfwjs.load -> its tf.LayersModel)
// under @tensorflow/tfjs's CPU backend on deterministic synthetic images and writes, per
// model, <out>/reference_<model>.safetensors with
//   pixels          U8  [N, H, W, 3]  the images (RGB)
//   input           F32 [N, 3, H, W]  network input: pixels * scale - mean (the --input-range
//                                     preprocessing, as convert.mjs stores it)
//   layer/<name>    F32 [N, C, H, W]  activations (NCHW), or [N, C] for dense layers
// and __metadata__ {layers, classes, predicted, preprocessing, versions, seconds}.
//
//   node tools/nsfwjs/reference.mjs --out build/keras_models

import path from "node:path";
import {
  MODELS, NSFWJS_VERSION, TFJS_VERSION, classNames, fail, parseArgs, preprocessing,
  requireNsfwjs, requireTfjs, writeSafetensors,
} from "./lib.mjs";

const USAGE = `usage: node reference.mjs --out DIR [--models mobilenet_v2,inception_v3]
                          [--input-range imagenet|nsfwjs] [--seed N]
`;

// Layers compared by the C++ test: early, the probed ones, late, and the 5-class softmax.
const LAYERS = {
  mobilenet_v2: ["Conv1_relu", "block_1_depthwise_relu", "block_3_depthwise_relu",
    "block_6_expand_relu", "block_10_expand_relu", "block_13_depthwise_relu",
    "block_16_project_BN", "out_relu", "dense_3"],
  inception_v3: ["activation_3", "max_pooling2d_2", "mixed0", "mixed2", "mixed5", "mixed7",
    "mixed10", "dense_3"],
};

const args = parseArgs(process.argv.slice(2),
  { out: "", models: "mobilenet_v2,inception_v3", "input-range": "imagenet", seed: "20180618" },
  USAGE);
if (!args.out) fail(`--out is required\n${USAGE}`);

// mulberry32: a small seeded PRNG, so the images are the same on every machine.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Three size x size RGB images: a colour gradient with sinusoidal stripes, uniform noise,
// and discs and rectangles on a gradient with mild noise.
function images(size, seed) {
  const n = 3;
  const px = new Uint8Array(n * size * size * 3);
  const rand = rng(seed);
  const clamp = (v) => Math.max(0, Math.min(255, Math.round(v)));
  const shapes = Array.from({ length: 6 }, () => ({
    x: rand() * size, y: rand() * size, r: (0.08 + 0.15 * rand()) * size,
    disc: rand() < 0.5, c: [rand() * 255, rand() * 255, rand() * 255],
  }));
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const u = x / (size - 1), v = y / (size - 1);
      const base0 = ((0 * size + y) * size + x) * 3;
      const stripes = 40 * Math.sin(2 * Math.PI * (3 * u + 2 * v));
      px[base0] = clamp(255 * u + stripes);
      px[base0 + 1] = clamp(255 * v - stripes);
      px[base0 + 2] = clamp(255 * (1 - u) * (1 - v) + 0.5 * stripes);
      const base1 = ((1 * size + y) * size + x) * 3;
      for (let c = 0; c < 3; c++) px[base1 + c] = Math.floor(rand() * 256);
      const base2 = ((2 * size + y) * size + x) * 3;
      let c3 = [90 + 80 * v, 140 - 60 * u, 60 + 120 * u * v];
      for (const s of shapes) {
        const inside = s.disc ? (x - s.x) ** 2 + (y - s.y) ** 2 < s.r ** 2
          : Math.abs(x - s.x) < s.r && Math.abs(y - s.y) < 0.6 * s.r;
        if (inside) c3 = s.c;
      }
      for (let c = 0; c < 3; c++) px[base2 + c] = clamp(c3[c] + 16 * (rand() - 0.5));
    }
  }
  return { n, px };
}

async function reference(tf, nsfwjs, model) {
  const info = MODELS[model];
  if (!info) fail(`unknown model '${model}' (expected ${Object.keys(MODELS).join(", ")})`);
  const size = info.size;
  const prep = preprocessing(size, args["input-range"]);
  const net = await nsfwjs.load(info.nsfwjsName, { size });
  const keras = net.model;  // the tf.LayersModel nsfwjs loaded from its bundled files
  const names = LAYERS[model];
  const probe = tf.model({ inputs: keras.inputs, outputs: names.map((l) => keras.getLayer(l).output) });

  const { n, px } = images(size, Number(args.seed) + size);
  const inputNHWC = new Float32Array(px.length);
  for (let i = 0; i < px.length; i++)
    inputNHWC[i] = Math.fround(Math.fround(px[i] * Math.fround(prep.scale)) - prep.mean[i % 3]);

  const tensors = [{ name: "pixels", dtype: "U8", shape: [n, size, size, 3], data: px }];
  const start = process.hrtime.bigint();
  const outputs = tf.tidy(() => {
    const x = tf.tensor4d(inputNHWC, [n, size, size, 3]);
    const ys = probe.predict(x);
    return [tf.transpose(x, [0, 3, 1, 2]),
      ...ys.map((y) => (y.rank === 4 ? tf.transpose(y, [0, 3, 1, 2]) : y))];
  });
  const data = await Promise.all(outputs.map((t) => t.data()));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  tensors.push({ name: "input", dtype: "F32", shape: outputs[0].shape, data: data[0] });
  names.forEach((l, i) => tensors.push({ name: `layer/${l}`, dtype: "F32", shape: outputs[i + 1].shape, data: data[i + 1] }));

  const probs = outputs[outputs.length - 1];
  const predicted = Array.from(await probs.argMax(1).data());
  const classes = classNames();
  outputs.forEach((t) => t.dispose());
  const file = path.join(args.out, `reference_${model}.safetensors`);
  writeSafetensors(file, tensors, {
    model, architecture: info.architecture, layers: names, classes, predicted,
    preprocessing: prep, seed: args.seed, nsfwjs: NSFWJS_VERSION, tfjs: TFJS_VERSION,
    backend: tf.getBackend(), seconds: seconds.toFixed(3),
  });
  const probsData = data[data.length - 1];
  const top = predicted.map((c, i) => `${classes[c]} ${probsData[i * classes.length + c].toFixed(3)}`);
  console.log(`${file}: ${n} images, ${names.length} layers, tfjs ${tf.getBackend()} forward ` +
    `${seconds.toFixed(2)} s; predicted: ${top.join(", ")}`);
  net.dispose();  // also disposes the layers `probe` shares
}

const tf = requireTfjs();
await tf.setBackend("cpu");
await tf.ready();
const nsfwjs = requireNsfwjs();
const info = console.info;
console.info = () => {};  // nsfwjs greets on every load
for (const model of args.models.split(",").filter(Boolean)) await reference(tf, nsfwjs, model);
console.info = info;
