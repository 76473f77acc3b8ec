#!/usr/bin/env node
// ONNX Runtime anchor of cnngen's benchmark suite (benchmarks/suite).
//
//   cd benchmarks/ort && npm install --ignore-scripts   # once
//   /usr/bin/python3 benchmarks/pytorch/suite.py --export-onnx /tmp/onnx
//   node benchmarks/ort/bench.js --models /tmp/onnx [--threads 1,2] [--nets lenet5,...] [--quick] [--spinning on|off]
//
// For each <net>.onnx that suite.py exported (dynamic batch axis), it first
// runs the seeded batch of <net>.check.json and prints the largest
// difference from PyTorch's outputs (so the anchor is known to run the same
// network; beyond 1e-4 of the outputs' scale it stops with an error), then
// measures, with intraOpNumThreads = 1 and 2 (a session per thread count;
// interOpNumThreads 1, sequential execution, every graph optimisation,
// denormals as zero as PyTorch's flush_denormal), after warm-up, the median
// over repeats (each the mean over many runs) of
//
//   infer_batch_ms    batch-256 inference
//   infer_latency_us  one sample
//
// With 2 or more threads, intra-op threads that spin while they wait (ORT's
// default) and threads that sleep (as PyTorch's OMP_WAIT_POLICY=PASSIVE) are
// both measured and the faster is kept, named in the record's "variant"
// (spinning, no_spinning); --spinning on|off measures only one. On a shared
// machine spinning threads wait for descheduled ones: 2-thread one-sample
// runs were 2.5-4x slower spinning here.
//
// It prints one JSON record per figure ({"impl": "onnxruntime", ...}),
// every other line starting with "#". Inputs are uniform [0, 1), seeded.
// Without onnxruntime-node installed it says so and exits 0.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

let ort;
try {
  ort = require('onnxruntime-node');
} catch (e) {
  console.log('# skipped: onnxruntime-node not installed (cd benchmarks/ort && npm install --ignore-scripts)');
  process.exit(0);
}

function parseArgs(argv) {
  const args = { models: '', threads: '1,2', nets: '', quick: false, spinning: 'best' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (['--models', '--threads', '--nets', '--spinning'].includes(a) && i + 1 < argv.length) args[a.slice(2)] = argv[++i];
    else {
      console.error(`bench.js: unknown argument ${a}`);
      process.exit(2);
    }
  }
  if (!['best', 'on', 'off'].includes(args.spinning)) {
    console.error('bench.js: --spinning is best, on or off');
    process.exit(2);
  }
  if (!args.models) {
    console.error('bench.js: --models DIR is required (suite.py --export-onnx DIR writes it)');
    process.exit(2);
  }
  return args;
}

// rand is a small seeded generator (mulberry32), for reproducible inputs.
function rand(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function input(shape, batch, seed) {
  const dims = [batch, ...shape.slice(1)];
  const n = dims.reduce((a, b) => a * b, 1);
  const r = rand(seed);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = r();
  return new ort.Tensor('float32', values, dims);
}

// METRICS are [batch, metric, unit scale from seconds].
const METRICS = [[256, 'infer_batch_ms', 1e3], [1, 'infer_latency_us', 1e6]];

function median(v) {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

// timeRuns returns the median over repeats of the mean seconds per run.
async function timeRuns(session, feeds, budget, repeats) {
  let t = process.hrtime.bigint();
  await session.run(feeds);
  const once = Number(process.hrtime.bigint() - t) / 1e9;
  const calls = Math.max(1, Math.min(1000, Math.floor(budget / Math.max(once, 1e-7))));
  const times = [];
  for (let r = 0; r < repeats; r++) {
    t = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e9 / calls);
  }
  return median(times);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const version = require('onnxruntime-node/package.json').version;
  const [warmup, repeats, budget] = args.quick ? [2, 3, 0.05] : [5, 7, 0.3];
  let nets = fs.readdirSync(args.models).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -5)).sort();
  if (args.nets) {
    const want = args.nets.split(',');
    want.filter((n) => !nets.includes(n)).forEach((n) => console.log(`# skipped: ${n}: no ${path.join(args.models, n + '.onnx')}`));
    nets = want.filter((n) => nets.includes(n));
  }
  if (nets.length === 0) {
    console.log(`# skipped: no ${args.nets ? 'such ' : ''}.onnx files in ${args.models}`);
    return;
  }
  console.log(`# ONNX Runtime suite anchor: onnxruntime-node ${version}, CPU execution provider; ` +
    `cpu: ${os.cpus()[0].model}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  console.log(`# session: intraOpNumThreads ${args.threads}, interOpNumThreads 1, executionMode sequential, ` +
    `graphOptimizationLevel all, session.set_denormal_as_zero 1; with 2 or more threads ` +
    `session.intra_op.allow_spinning ${{ best: '1 and 0, the faster', on: '1', off: '0' }[args.spinning]}; ` +
    `${args.quick ? 'quick: 3 repeats of ~0.05 s' : '7 repeats of ~0.3 s'}, median`);
  for (const threads of args.threads.split(',').map(Number)) {
    // One thread has no intra-op pool to spin; with more, spinning or not is ORT's variant.
    const variants = threads === 1 ? [['', '1']] : { best: [['spinning', '1'], ['no_spinning', '0']],
      on: [['spinning', '1']], off: [['no_spinning', '0']] }[args.spinning];
    for (const net of nets) {
      const times = {}; // metric -> variant -> seconds
      for (const [variant, spin] of variants) {
        const session = await ort.InferenceSession.create(path.join(args.models, net + '.onnx'), {
          executionProviders: ['cpu'],
          intraOpNumThreads: threads,
          interOpNumThreads: 1,
          executionMode: 'sequential',
          graphOptimizationLevel: 'all',
          extra: { session: { set_denormal_as_zero: '1', intra_op: { allow_spinning: spin } } },
        });
        await checkAgainstPyTorch(session, args.models, net, `${threads} thread(s)${variant ? ', ' + variant : ''}`);
        for (const [batch, metric] of METRICS) {
          const feeds = { input: input(session.shape, batch, batch) };
          for (let i = 0; i < warmup; i++) await session.run(feeds);
          (times[metric] = times[metric] || {})[variant] = await timeRuns(session, feeds, budget, repeats);
        }
        await session.release();
      }
      for (const [batch, metric, scale] of METRICS) {
        const byVariant = Object.entries(times[metric]).sort((a, b) => a[1] - b[1]);
        if (byVariant.length > 1) {
          console.log(`# [${threads} thread(s)] ${net} ${metric} batch ${batch}: ` +
            byVariant.map(([v, sec]) => `${v} ${(sec * scale).toPrecision(4)}`).join(', '));
        }
        const [variant, sec] = byVariant[0];
        console.log(JSON.stringify({ impl: 'onnxruntime', version, threads, net, metric, batch,
          ...(variant ? { variant } : {}), value: Number((sec * scale).toFixed(4)) }));
      }
    }
    console.log(`# [${threads} thread(s)] load average at the end ${os.loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  }
}

// checkAgainstPyTorch runs the check batch that suite.py wrote beside the
// model and exits with an error when the outputs are not PyTorch's; it sets
// session.shape to the check batch's input shape.
async function checkAgainstPyTorch(session, dir, net, label) {
  const check = JSON.parse(fs.readFileSync(path.join(dir, net + '.check.json'), 'utf8'));
  session.shape = check.shape;
  const got = (await session.run({ input: new ort.Tensor('float32', Float32Array.from(check.input), check.shape) })).output.data;
  let diff = got.length === check.output.length ? 0 : Infinity;
  let largest = 0;
  check.output.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - got[i]));
    largest = Math.max(largest, Math.abs(v));
  });
  console.log(`# [${label}] ${net}: max |ORT - PyTorch| on the check batch ${diff.toExponential(2)} ` +
    `(${check.output.length} outputs, max |PyTorch| ${largest.toPrecision(3)})`);
  if (!(diff <= 1e-4 * Math.max(1, largest))) {
    const msg = `${net}: ONNX Runtime's outputs differ from PyTorch's by ${diff}: not the same network`;
    console.log(`# error: ${msg}`);
    console.error(`bench.js: ${msg}`);
    process.exit(1);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
