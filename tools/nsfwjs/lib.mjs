// Shared by convert.mjs and reference.mjs: the nsfwjs models, their class names, the
// preprocessing net2vec records for them, and a safetensors writer.

import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(HERE, "package.json"));

export const NSFWJS_VERSION = "4.4.0";
export const TFJS_VERSION = "4.22.0";

// The two nsfwjs models net2vec has a built-in architecture for.
export const MODELS = {
  mobilenet_v2: { architecture: "keras_mobilenet_v2", nsfwjsName: "MobileNetV2", size: 224 },
  inception_v3: { architecture: "keras_inception_v3", nsfwjsName: "InceptionV3", size: 299 },
};

export function fail(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${message}\n`);
  process.exit(1);
}

// Resolves a package file from tools/nsfwjs/node_modules, checking the pinned version.
function packageDir(name, version) {
  // (nsfwjs's "exports" map hides package.json from require.resolve)
  const pkgJson = path.join(HERE, "node_modules", name, "package.json");
  if (!fs.existsSync(pkgJson)) fail(`npm package ${name} is not installed; run: (cd ${HERE} && npm ci)`);
  const pkg = JSON.parse(fs.readFileSync(pkgJson, "utf8"));
  if (pkg.version !== version)
    fail(`${name} ${pkg.version} is installed, ${version} is pinned; run: (cd ${HERE} && npm ci)`);
  return path.dirname(pkgJson);
}

export function nsfwjsDir() {
  return packageDir("nsfwjs", NSFWJS_VERSION);
}

export function requireTfjs() {
  packageDir("@tensorflow/tfjs", TFJS_VERSION);
  return require("@tensorflow/tfjs");
}

export function requireNsfwjs() {
  nsfwjsDir();
  return require("nsfwjs");
}

// Class names in output order (nsfwjs's NSFW_CLASSES: {0: "Drawing", ...}).
export function classNames() {
  const { NSFW_CLASSES } = require(path.join(nsfwjsDir(), "dist/cjs/nsfw_classes.js"));
  const n = Object.keys(NSFW_CLASSES).length;
  return Array.from({ length: n }, (_, i) => NSFW_CLASSES[i]);
}

// The preprocessing net2vec stores (n2v::Preprocessing JSON):
// input = pixel * scale - mean, in RGB order.
//   "imagenet": x / 127.5 - 1 in [-1, 1], what Keras applications' MobileNetV2 and
//               InceptionV3 ImageNet weights expect (the frozen layers of both models);
//   "nsfwjs":   x / 255 in [0, 1], what nsfwjs feeds (and GantMan/nsfw_model trained with).
export function preprocessing(size, inputRange) {
  if (inputRange === "imagenet")
    return { height: size, width: size, channel_order: "RGB", scale: 2 / 255, mean: [1, 1, 1], std: [1, 1, 1] };
  if (inputRange === "nsfwjs")
    return { height: size, width: size, channel_order: "RGB", scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] };
  fail(`unknown --input-range '${inputRange}' (expected imagenet or nsfwjs)`);
}

// model.min.js and the group1-shard*.min.js bundles are the package's own UMD modules
// (browserify): requiring them returns the model JSON and the shards' base64 strings.
export function loadModelFiles(model) {
  const dir = path.join(nsfwjsDir(), "dist/models", model);
  const json = require(path.join(dir, "model.min.js"));
  if (!json || !json.modelTopology || !json.weightsManifest)
    fail(`${dir}/model.min.js holds no modelTopology/weightsManifest`);
  const shards = [];
  for (const group of json.weightsManifest) {
    for (const p of group.paths) {
      const b64 = require(path.join(dir, `${p}.min.js`));
      if (typeof b64 !== "string") fail(`${dir}/${p}.min.js does not export a base64 string`);
      shards.push(Buffer.from(b64, "base64"));
    }
  }
  return { dir, json, shards };
}

function float16ToFloat32(h) {
  const s = (h & 0x8000) >> 15, e = (h & 0x7c00) >> 10, f = h & 0x03ff;
  let v;
  if (e === 0) v = (f / 1024) * 2 ** -14;
  else if (e === 31) v = f ? NaN : Infinity;
  else v = (1 + f / 1024) * 2 ** (e - 15);
  return s ? -v : v;
}

// Decodes every weight of the manifest exactly as tfjs-core's io.decodeWeights does:
// weights are packed back to back over the concatenated shards of each group; uint8/uint16
// affine quantisation is w = q * scale + min evaluated in double then stored as float32.
export function decodeWeights(json, shards) {
  const out = [];
  let shardIndex = 0;
  for (const group of json.weightsManifest) {
    const buf = Buffer.concat(shards.slice(shardIndex, shardIndex + group.paths.length));
    shardIndex += group.paths.length;
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.dtype !== "float32") fail(`weight ${spec.name} has dtype ${spec.dtype}; only float32 is handled`);
      const size = spec.shape.reduce((a, b) => a * b, 1);
      const values = new Float32Array(size);
      const q = spec.quantization;
      let bytes;
      if (!q) {
        bytes = size * 4;
        const src = Buffer.from(buf.subarray(offset, offset + bytes));  // aligned copy
        values.set(new Float32Array(src.buffer, src.byteOffset, size));
      } else if (q.dtype === "uint8" || q.dtype === "uint16") {
        if (typeof q.min !== "number" || typeof q.scale !== "number")
          fail(`weight ${spec.name}: ${q.dtype} quantisation without min and scale`);
        const width = q.dtype === "uint8" ? 1 : 2;
        bytes = size * width;
        for (let i = 0; i < size; i++) {
          const v = width === 1 ? buf[offset + i] : buf.readUInt16LE(offset + 2 * i);
          values[i] = v * q.scale + q.min;
        }
      } else if (q.dtype === "float16") {
        bytes = size * 2;
        for (let i = 0; i < size; i++) values[i] = float16ToFloat32(buf.readUInt16LE(offset + 2 * i));
      } else {
        fail(`weight ${spec.name}: unknown quantisation dtype ${q.dtype}`);
      }
      if (offset + bytes > buf.length) fail(`weight ${spec.name} runs past the end of its shards`);
      offset += bytes;
      out.push({ name: spec.name, dtype: "F32", shape: spec.shape, data: values });
    }
    if (offset !== buf.length) fail(`weights of group ${group.paths} use ${offset} of ${buf.length} bytes`);
  }
  return out;
}

const DTYPE_BYTES = { F32: 4, U8: 1, I32: 4, F64: 8 };

// Writes a safetensors file (https://github.com/huggingface/safetensors): u64 LE header
// length, JSON header (tensors in data order + "__metadata__" of strings, padded with spaces
// to a multiple of 8), then the little-endian tensor bytes. Written to a temporary file and
// renamed, so readers never see half a file.
export function writeSafetensors(file, tensors, metadata) {
  const header = {};
  if (metadata) {
    header.__metadata__ = {};
    for (const [k, v] of Object.entries(metadata))
      header.__metadata__[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  let offset = 0;
  for (const t of tensors) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const bytes = size * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== bytes)
      throw new Error(`tensor ${t.name}: ${t.data.byteLength} bytes for shape [${t.shape}] ${t.dtype}`);
    if (t.name in header) throw new Error(`duplicate tensor name ${t.name}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const pad = (8 - (Buffer.byteLength(json) % 8)) % 8;
  json += " ".repeat(pad);
  const headerBytes = Buffer.from(json, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(headerBytes.length));
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, "w");
  try {
    fs.writeSync(fd, len);
    fs.writeSync(fd, headerBytes);
    for (const t of tensors) fs.writeSync(fd, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  return 8 + headerBytes.length + offset;
}

// --name value / --flag command-line options.
export function parseArgs(argv, spec, usage) {
  const out = { ...spec };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "-h" || a === "--help") {
      process.stdout.write(usage);
      process.exit(0);
    }
    if (!a.startsWith("--") || !(a.slice(2) in spec)) fail(`unknown argument '${a}'\n${usage}`);
    if (i + 1 >= argv.length) fail(`${a} needs a value`);
    out[a.slice(2)] = argv[++i];
  }
  return out;
}
