#!/usr/bin/env node
// Computes ONNX Runtime's outputs for the models that cnngen's exporter
// wrote into gen/onnx/testdata/export (see export_goldens.sh).
//
//   cd internal/onnxparity/ort && npm ci --ignore-scripts && node export.js [model ...]
//
// CNNGEN_EXPORT_DIR names another directory of such files.
//
// For each <model>.safetensors there, it runs <model>.onnx with
// onnxruntime-node (CPU, one thread) on each sample of "input" (NCHW, one at
// a time: the graph's batch is 1) and rewrites the file with "output_ort"
// F32 [N, K] added (replaced when present) and the metadata
// "max_abs_output_ort_minus_cnngen". It prints max |ORT - cnngen| per model.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readSafetensors, writeSafetensors, maxAbsDiff } = require('./run.js');

const dir = process.env.CNNGEN_EXPORT_DIR || path.join(__dirname, '..', '..', '..', 'gen', 'onnx', 'testdata', 'export');

async function main() {
  const only = new Set(process.argv.slice(2));
  const models = fs.readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.slice(0, -'.safetensors'.length))
    .filter((m) => only.size === 0 || only.has(m))
    .sort();
  for (const model of models) {
    const stFile = path.join(dir, model + '.safetensors');
    const { metadata, tensors } = readSafetensors(stFile);
    const input = tensors.find((t) => t.name === 'input');
    const cnngen = tensors.find((t) => t.name === 'output_cnngen');
    const session = await ort.InferenceSession.create(path.join(dir, model + '.onnx'), {
      executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1,
    });
    const n = input.shape[0];
    const per = input.values.length / n;
    const outs = [];
    for (let i = 0; i < n; i++) {
      const x = new ort.Tensor('float32', input.values.slice(i * per, (i + 1) * per), [1, ...input.shape.slice(1)]);
      const res = await session.run({ input: x });
      outs.push(Float32Array.from(res.output.data));
    }
    const values = new Float32Array(outs.reduce((s, o) => s + o.length, 0));
    outs.reduce((off, o) => { values.set(o, off); return off + o.length; }, 0);
    const kept = tensors.filter((t) => t.name !== 'output_ort');
    kept.push({ name: 'output_ort', shape: [n, values.length / n], values });
    const d = maxAbsDiff(values, cnngen.values);
    metadata.onnxruntime = `onnxruntime-node ${ort.env.versions.node} (CPU execution provider, 1 thread)`;
    metadata.max_abs_output_ort_minus_cnngen = d.toPrecision(3);
    writeSafetensors(stFile, kept, metadata);
    console.log(`${model}: output_ort [${n},${values.length / n}], max |ORT - cnngen| ${d.toPrecision(3)}`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
