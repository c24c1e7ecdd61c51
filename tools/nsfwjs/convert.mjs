#!/usr/bin/env node
// Converts nsfwjs@4.4.0's Keras models (TF.js layers format, uint8-quantised weights) into
// safetensors files that net2vec loads with n2v::load_network (src/model/keras_networks.cpp):
//
//   (cd tools/nsfwjs && npm ci)
//   node tools/nsfwjs/convert.mjs --out data/models
//
// writes <out>/nsfwjs_mobilenet_v2.safetensors (14 MB) and <out>/nsfwjs_inception_v3.safetensors
// (88 MB). Each holds every weight as float32 under its Keras name ("block_10_expand/kernel",
// "batch_normalization_7/moving_mean") in its Keras layout (conv kernels HWIO, depthwise
// kernels [kh, kw, C, 1], dense kernels [in, out]) and, in __metadata__: architecture,
// preprocessing (n2v::Preprocessing JSON), classes, output_layer and keras_model_config (the
// Keras topology the C++ graph is built from). See docs/MODELS.md.

import path from "node:path";
import {
  MODELS, NSFWJS_VERSION, classNames, decodeWeights, fail, loadModelFiles, parseArgs,
  preprocessing, writeSafetensors,
} from "./lib.mjs";

const USAGE = `usage: node convert.mjs --out DIR [--models mobilenet_v2,inception_v3]
                        [--input-range imagenet|nsfwjs]
  --out DIR          where to write nsfwjs_<model>.safetensors
  --models LIST      which models (default: both)
  --input-range R    preprocessing stored in the file: imagenet (default) = x/127.5 - 1,
                     what the ImageNet-trained (frozen) layers expect; nsfwjs = x/255, what
                     nsfwjs feeds its fine-tuned classifier
`;

const args = parseArgs(process.argv.slice(2),
  { out: "", models: "mobilenet_v2,inception_v3", "input-range": "imagenet" }, USAGE);
if (!args.out) fail(`--out is required\n${USAGE}`);

function convert(model) {
  const info = MODELS[model];
  if (!info) fail(`unknown model '${model}' (expected ${Object.keys(MODELS).join(", ")})`);
  const start = Date.now();
  const { dir, json, shards } = loadModelFiles(model);
  const topology = json.modelTopology;
  const config = topology.model_config;
  if (!config || config.class_name !== "Model") fail(`${dir}: not a Keras functional model`);
  const layers = config.config.layers;
  const layerNames = new Set(layers.map((l) => l.name));
  const input = layers.find((l) => l.class_name === "InputLayer");
  const shape = input && input.config.batch_input_shape;
  if (!shape || shape[1] !== info.size || shape[2] !== info.size || shape[3] !== 3)
    fail(`${dir}: input shape ${JSON.stringify(shape)}, expected [null, ${info.size}, ${info.size}, 3]`);

  const weights = decodeWeights(json, shards);
  for (const w of weights) {
    const slash = w.name.lastIndexOf("/");
    if (slash < 0 || !layerNames.has(w.name.slice(0, slash)))
      fail(`${dir}: weight ${w.name} is not named <layer>/<weight> after a layer of the topology`);
  }
  const outputs = config.config.output_layers;
  if (!outputs || outputs.length !== 1) fail(`${dir}: expected one output layer`);
  const classes = classNames();
  const metadata = {
    format: "net2vec-keras-1",
    architecture: info.architecture,
    preprocessing: preprocessing(info.size, args["input-range"]),
    classes,
    output_layer: outputs[0][0],
    keras_version: topology.keras_version || "",
    keras_model_config: config,
    source: `npm nsfwjs@${NSFWJS_VERSION} dist/models/${model} (TF.js layers model; ` +
      "uint8-quantised weights dequantised as q * scale + min into float32)",
    converter: "tools/nsfwjs/convert.mjs",
  };
  const file = path.join(args.out, `nsfwjs_${model}.safetensors`);
  const bytes = writeSafetensors(file, weights, metadata);
  const params = weights.reduce((a, w) => a + w.data.length, 0);
  console.log(`${file}: ${info.architecture}, ${layers.length} layers, ${weights.length} tensors, ` +
    `${params} parameters, ${(bytes / 1e6).toFixed(1)} MB (${Date.now() - start} ms)`);
}

for (const model of args.models.split(",").filter(Boolean)) convert(model);
