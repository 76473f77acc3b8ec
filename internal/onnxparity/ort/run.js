#!/usr/bin/env node
// Computes ONNX Runtime's golden outputs for internal/onnxparity/testdata.
//
//   cd internal/onnxparity/ort && npm ci --ignore-scripts && node run.js [model ...]
//
// For each testdata/<model>.safetensors that export.py wrote, it runs
// testdata/<model>.onnx with onnxruntime-node (CPU, one thread) on each
// sample of "input" (one at a time: the graph's batch is 1), and rewrites the
// file with "output_ort" F32 [N, K] added (replaced when present); when
// fuse_pads.py wrote testdata/<model>_padfused.onnx, that too, as
// "output_ort_padfused". The metadata gets "onnxruntime" and, per output,
// "max_abs_<output>_minus_torch" and "..._minus_torch64". It prints
// max |ORT - PyTorch| per model.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

const testdata = path.join(__dirname, '..', 'testdata');

function readSafetensors(file) {
  const buf = fs.readFileSync(file);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const data = buf.subarray(8 + n);
  const metadata = header.__metadata__ || {};
  delete header.__metadata__;
  const tensors = [];
  for (const [name, info] of Object.entries(header)) {
    if (info.dtype !== 'F32') throw new Error(`${file}: ${name}: dtype ${info.dtype}, want F32`);
    const [a, b] = info.data_offsets;
    const bytes = Buffer.from(data.subarray(a, b)); // copy: aligned
    const values = new Float32Array(bytes.buffer, bytes.byteOffset, (b - a) / 4);
    tensors.push({ name, shape: info.shape, values, start: a });
  }
  tensors.sort((x, y) => x.start - y.start);
  return { metadata, tensors };
}

function writeSafetensors(file, tensors, metadata) {
  const header = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    const size = t.values.length * 4;
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let head = Buffer.from(JSON.stringify(header), 'utf8');
  const padding = (8 - (head.length % 8)) % 8;
  head = Buffer.concat([head, Buffer.alloc(padding, ' ')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  const parts = [len, head];
  for (const t of tensors) {
    const le = Buffer.alloc(t.values.length * 4);
    t.values.forEach((v, i) => le.writeFloatLE(v, i * 4));
    parts.push(le);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function maxAbsDiff(a, b) {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function runModel(onnxFile, input) {
  const session = await ort.InferenceSession.create(onnxFile, {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const n = input.shape[0];
  const perSample = input.values.length / n;
  const sampleShape = [1, ...input.shape.slice(1)];
  const outputs = [];
  for (let i = 0; i < n; i++) {
    const x = new ort.Tensor('float32', input.values.slice(i * perSample, (i + 1) * perSample), sampleShape);
    const res = await session.run({ input: x });
    outputs.push(Float32Array.from(res.output.data));
  }
  const values = new Float32Array(outputs.reduce((s, o) => s + o.length, 0));
  outputs.reduce((off, o) => { values.set(o, off); return off + o.length; }, 0);
  return values;
}

async function main() {
  const only = new Set(process.argv.slice(2));
  const models = fs.readdirSync(testdata)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .filter((m) => only.size === 0 || only.has(m))
    .sort();
  const version = ort.env.versions.node;
  for (const model of models) {
    const stFile = path.join(testdata, model + '.safetensors');
    const { metadata, tensors } = readSafetensors(stFile);
    const get = (name) => tensors.find((t) => t.name === name);
    const input = get('input');
    metadata.onnxruntime = `onnxruntime-node ${version} (CPU execution provider, 1 thread)`;
    let kept = tensors;
    const variants = [['', 'output_ort'], ['_padfused', 'output_ort_padfused']];
    for (const [suffix, name] of variants) {
      const onnxFile = path.join(testdata, model + suffix + '.onnx');
      if (!fs.existsSync(onnxFile)) continue;
      const values = await runModel(onnxFile, input);
      kept = kept.filter((t) => t.name !== name);
      kept.push({ name, shape: [input.shape[0], values.length / input.shape[0]], values });
      const d32 = maxAbsDiff(values, get('output_torch').values);
      const d64 = maxAbsDiff(values, get('output_torch64').values);
      metadata[name] = `ONNX Runtime float32 on ${model + suffix}.onnx, one sample at a time`;
      metadata[`max_abs_${name}_minus_torch`] = d32.toPrecision(3);
      metadata[`max_abs_${name}_minus_torch64`] = d64.toPrecision(3);
      console.log(`${model + suffix}: ${name} [${input.shape[0]},${values.length / input.shape[0]}], ` +
        `max |ORT - torch| ${d32.toPrecision(3)}, max |ORT - torch float64| ${d64.toPrecision(3)}`);
    }
    writeSafetensors(stFile, kept, metadata);
  }
}

module.exports = { readSafetensors, writeSafetensors, maxAbsDiff };

if (require.main === module) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
