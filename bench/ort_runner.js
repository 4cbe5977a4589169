#!/usr/bin/env node
// ort_runner.js — the ONNX Runtime half of the benchmark: a persistent node process that bench.c
// (or a person) drives with one command per line on stdin; every command gets exactly one reply
// line on stdout, "ok ..." or "err MESSAGE", so the driver can interleave ORT runs with ppcc runs
// in one session. Timing is taken here (process.hrtime around each session.run), so pipe
// latency never counts.
//
//   node bench/ort_runner.js --ort PKG_DIR            serve commands (PKG_DIR: the installed
//                                                     node_modules/onnxruntime-node)
//   node bench/ort_runner.js --ort PKG_DIR --selftest build a small model in memory, run it with
//                                                     1 and 2 threads, check the numbers
// Commands:
//   version                  -> ok version V
//   load MODEL.onnx T        -> ok load ms=X inputs=NAME,... outputs=NAME,...   (a new session:
//                               all graph optimisations, T intra-op threads, 1 inter-op thread,
//                               sequential execution, CPU provider; replaces a loaded session)
//   input FILE.pb            -> ok input name=N shape=AxB   (an ONNX TensorProto, float32; bound
//                               to the model input of the same name, or to the only input)
//   run N                    -> ok run ms=X,Y,...           (N timed runs, each in milliseconds)
//   output FILE.pb           -> ok output name=N shape=AxB  (the first output of the last run,
//                               written as a float32 TensorProto)
//   unload                   -> ok unload
//   quit                     -> ok quit, then exit
// The process also exits when stdin closes. Messages never contain a newline.
'use strict';

const fs = require('fs');
const path = require('path');
const readline = require('readline');

// ------------------------------------------------------------------ protobuf (just enough)
// Reading: a TensorProto's dims (1), data_type (2), float_data (4), name (8), raw_data (9).
function readVarint(buf, pos) {
  let v = 0n;
  let shift = 0n;
  for (;;) {
    if (pos.i >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.i++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
    shift += 7n;
    if (shift > 63n) throw new Error('varint too long');
  }
}

function skipField(buf, pos, wire) {
  if (wire === 0) readVarint(buf, pos);
  else if (wire === 1) pos.i += 8;
  else if (wire === 2) pos.i += Number(readVarint(buf, pos));
  else if (wire === 5) pos.i += 4;
  else throw new Error('unsupported wire type ' + wire);
  if (pos.i > buf.length) throw new Error('truncated field');
}

function decodeTensorProto(buf) {
  const pos = { i: 0 };
  const t = { dims: [], dataType: 0, name: '', floats: [], raw: null };
  while (pos.i < buf.length) {
    const key = Number(readVarint(buf, pos));
    const field = key >>> 3;
    const wire = key & 7;
    if (field === 1 && wire === 0) {
      t.dims.push(Number(BigInt.asIntN(64, readVarint(buf, pos))));
    } else if (field === 1 && wire === 2) {
      const end = pos.i + Number(readVarint(buf, pos));
      while (pos.i < end) t.dims.push(Number(BigInt.asIntN(64, readVarint(buf, pos))));
    } else if (field === 2 && wire === 0) {
      t.dataType = Number(readVarint(buf, pos));
    } else if (field === 4 && wire === 2) {
      const len = Number(readVarint(buf, pos));
      if (pos.i + len > buf.length || len % 4) throw new Error('bad float_data');
      for (let k = 0; k < len; k += 4) t.floats.push(buf.readFloatLE(pos.i + k));
      pos.i += len;
    } else if (field === 4 && wire === 5) {
      t.floats.push(buf.readFloatLE(pos.i));
      pos.i += 4;
    } else if ((field === 8 || field === 9) && wire === 2) {
      const len = Number(readVarint(buf, pos));
      if (pos.i + len > buf.length) throw new Error('truncated field');
      const bytes = buf.subarray(pos.i, pos.i + len);
      pos.i += len;
      if (field === 8) t.name = bytes.toString('utf8');
      else t.raw = bytes;
    } else {
      skipField(buf, pos, wire);
    }
  }
  if (t.dataType !== 1) throw new Error('tensor data_type ' + t.dataType + ' is not float32');
  const n = t.dims.reduce((a, b) => a * b, 1);
  let data;
  if (t.raw) {
    if (t.raw.length !== 4 * n) throw new Error('raw_data has ' + t.raw.length + ' bytes, shape needs ' + 4 * n);
    data = new Float32Array(n);
    for (let k = 0; k < n; k++) data[k] = t.raw.readFloatLE(4 * k);
  } else {
    if (t.floats.length !== n) throw new Error('float_data has ' + t.floats.length + ' values, shape needs ' + n);
    data = Float32Array.from(t.floats);
  }
  return { name: t.name, dims: t.dims, data };
}

// Writing: messages as arrays of encoded fields.
function varint(v) {
  let x = BigInt.asUintN(64, BigInt(v));
  const out = [];
  do {
    let b = Number(x & 0x7fn);
    x >>= 7n;
    if (x) b |= 0x80;
    out.push(b);
  } while (x);
  return Buffer.from(out);
}
const fVarint = (field, v) => Buffer.concat([varint(field << 3), varint(v)]);
const fBytes = (field, bytes) => Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
const fString = (field, s) => fBytes(field, Buffer.from(s, 'utf8'));

function encodeTensorProto(name, dims, data) {
  const raw = Buffer.alloc(4 * data.length);
  for (let k = 0; k < data.length; k++) raw.writeFloatLE(data[k], 4 * k);
  return Buffer.concat([...dims.map((d) => fVarint(1, d)), fVarint(2, 1), fString(8, name), fBytes(9, raw)]);
}

// ------------------------------------------------------------------ ORT sessions
function loadOrt(pkgDir) {
  if (!pkgDir) throw new Error('--ort PKG_DIR is required (the installed onnxruntime-node)');
  return require(path.resolve(pkgDir));
}

function sessionOptions(threads) {
  return {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
}

const dimsText = (dims) => (dims.length ? dims.join('x') : 'scalar');

class Runner {
  constructor(ort) {
    this.ort = ort;
    this.session = null;
    this.feeds = null;
    this.last = null;
  }

  async load(file, threads) {
    await this.unload();
    const t0 = process.hrtime.bigint();
    this.session = await this.ort.InferenceSession.create(file, sessionOptions(threads));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    return 'load ms=' + ms.toFixed(1) + ' inputs=' + this.session.inputNames.join(',') +
      ' outputs=' + this.session.outputNames.join(',');
  }

  input(file) {
    if (!this.session) throw new Error('no model loaded');
    const t = decodeTensorProto(fs.readFileSync(file));
    const names = this.session.inputNames;
    let name = names.includes(t.name) ? t.name : null;
    if (!name && names.length === 1) name = names[0];
    if (!name) throw new Error('tensor "' + t.name + '" matches no model input (' + names.join(',') + ')');
    this.feeds = { [name]: new this.ort.Tensor('float32', t.data, t.dims) };
    return 'input name=' + name + ' shape=' + dimsText(t.dims);
  }

  async run(n) {
    if (!this.session || !this.feeds) throw new Error('load a model and an input first');
    const ms = [];
    for (let k = 0; k < n; k++) {
      const t0 = process.hrtime.bigint();
      const out = await this.session.run(this.feeds);
      ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
      this.last = out;
    }
    return 'run ms=' + ms.map((x) => x.toFixed(4)).join(',');
  }

  output(file) {
    if (!this.last) throw new Error('no run yet');
    const name = this.session.outputNames[0];
    const t = this.last[name];
    if (t.type !== 'float32') throw new Error('output ' + name + ' is ' + t.type + ', not float32');
    const tmp = file + '.tmp';
    fs.writeFileSync(tmp, encodeTensorProto(name, t.dims, t.data));
    fs.renameSync(tmp, file);
    return 'output name=' + name + ' shape=' + dimsText(t.dims);
  }

  async unload() {
    if (this.session) await this.session.release();
    this.session = null;
    this.feeds = null;
    this.last = null;
  }
}

async function serve(ort) {
  const runner = new Runner(ort);
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  const reply = (s) => process.stdout.write(s.replace(/[\r\n]+/g, ' ') + '\n');
  for await (const line of rl) {
    const w = line.trim().split(/\s+/);
    if (!w[0]) continue;
    try {
      if (w[0] === 'version') reply('ok version ' + ort.env.versions.common);
      else if (w[0] === 'load' && w.length === 3) reply('ok ' + await runner.load(w[1], positive(w[2])));
      else if (w[0] === 'input' && w.length === 2) reply('ok ' + runner.input(w[1]));
      else if (w[0] === 'run' && w.length === 2) reply('ok ' + await runner.run(positive(w[1])));
      else if (w[0] === 'output' && w.length === 2) reply('ok ' + runner.output(w[1]));
      else if (w[0] === 'unload') { await runner.unload(); reply('ok unload'); }
      else if (w[0] === 'quit') { await runner.unload(); reply('ok quit'); break; }
      else reply('err unknown command or wrong arguments: ' + line.trim());
    } catch (e) {
      reply('err ' + (e && e.message ? e.message : String(e)));
    }
  }
  rl.close();
}

function positive(s) {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error('not a positive integer: ' + s);
  return n;
}

// ------------------------------------------------------------------ self-test
// A two-node model (MatMul with a constant weight, then Relu) encoded by hand as an ONNX
// ModelProto, run from a file through the same Runner commands the benchmark uses; the result is
// checked against a plain JS computation, and the TensorProto written back is read again.
function selftestModel(W, K, N) {
  const tensorType = (dims) => fBytes(1, Buffer.concat([fVarint(1, 1),
    fBytes(2, Buffer.concat(dims.map((d) => fBytes(1, fVarint(1, d)))))]));
  const valueInfo = (name, dims) => Buffer.concat([fString(1, name), fBytes(2, tensorType(dims))]);
  const node = (ins, outs, op, name) => Buffer.concat([...ins.map((s) => fString(1, s)),
    ...outs.map((s) => fString(2, s)), fString(3, name), fString(4, op)]);
  const graph = Buffer.concat([
    fBytes(1, node(['x', 'w'], ['xw'], 'MatMul', 'mm')),
    fBytes(1, node(['xw'], ['y'], 'Relu', 'relu')),
    fString(2, 'selftest'),
    fBytes(5, encodeTensorProto('w', [K, N], W)),
    fBytes(11, valueInfo('x', [2, K])),
    fBytes(12, valueInfo('y', [2, N])),
  ]);
  return Buffer.concat([fVarint(1, 7), fBytes(8, fVarint(2, 13)), fBytes(7, graph)]);
}

async function selftest(ort, tmpDir) {
  const K = 64, N = 48;
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 1073741824 - 1; };
  const W = Float32Array.from({ length: K * N }, rnd);
  const X = Float32Array.from({ length: 2 * K }, rnd);
  fs.mkdirSync(tmpDir, { recursive: true });
  const modelFile = path.join(tmpDir, 'selftest.onnx');
  const inFile = path.join(tmpDir, 'selftest_in.pb');
  const outFile = path.join(tmpDir, 'selftest_out.pb');
  fs.writeFileSync(modelFile, selftestModel(W, K, N));
  fs.writeFileSync(inFile, encodeTensorProto('x', [2, K], X));
  const want = new Float64Array(2 * N);
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += X[i * K + k] * W[k * N + j];
      want[i * N + j] = Math.max(s, 0);
    }
  }
  const runner = new Runner(ort);
  for (const threads of [1, 2]) {
    await runner.load(modelFile, threads);
    runner.input(inFile);
    const r = await runner.run(3);
    runner.output(outFile);
    const got = decodeTensorProto(fs.readFileSync(outFile));
    if (got.dims.join('x') !== '2x' + N) throw new Error('selftest: output shape ' + dimsText(got.dims));
    let worst = 0;
    for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got.data[k] - want[k]));
    if (!(worst < 1e-4)) throw new Error('selftest: max abs error ' + worst + ' with ' + threads + ' thread(s)');
    console.log('ort_runner selftest: onnxruntime-node ' + ort.env.versions.common + ', threads=' + threads +
      ', max abs error ' + worst.toExponential(2) + ', ' + r);
  }
  await runner.unload();
  for (const f of [modelFile, inFile, outFile]) fs.unlinkSync(f);
}

// ------------------------------------------------------------------ main
async function main() {
  const args = process.argv.slice(2);
  let pkg = null, test = false, tmp = path.join(require('os').tmpdir(), 'ort_runner_selftest_' + process.pid);
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--ort' && i + 1 < args.length) pkg = args[++i];
    else if (args[i] === '--selftest') test = true;
    else if (args[i] === '--tmp' && i + 1 < args.length) tmp = args[++i];
    else throw new Error('usage: ort_runner.js --ort PKG_DIR [--selftest [--tmp DIR]]');
  }
  const ort = loadOrt(pkg);
  if (test) await selftest(ort, tmp);
  else await serve(ort);
}

main().catch((e) => {
  process.stderr.write('ort_runner: ' + (e && e.message ? e.message : String(e)) + '\n');
  process.exit(1);
});
