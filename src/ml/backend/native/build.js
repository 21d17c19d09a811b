#!/usr/bin/env node
// Builds the optional native GEMM addon (gemm.cc) with the system C++ compiler into build/rir_native.node.
// Never fails the caller (npm postinstall): without a compiler or Node headers the wasm kernels are used.
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const source = path.join(__dirname, 'gemm.cc');
const output = path.join(__dirname, 'build', 'rir_native.node');
const headerDirs = [
  path.join(path.dirname(process.execPath), '..', 'include', 'node'),
  '/usr/include/node',
  '/usr/local/include/node',
];
const include = headerDirs.find((dir) => fs.existsSync(path.join(dir, 'node_api.h')));
const compiler = process.env.CXX || 'g++';

function skip(reason) {
  console.warn(`rir native GEMM not built (${reason}); the wasm kernels will be used.`);
  process.exit(0);
}

if (process.platform !== 'linux') skip(`platform ${process.platform}`);
if (!include) skip('node_api.h not found');
fs.mkdirSync(path.dirname(output), { recursive: true });
const args = [
  '-O3',
  '-std=c++17',
  '-shared',
  '-fPIC',
  `-I${include}`,
  source,
  '-o',
  output,
  '-ldl',
];
const result = spawnSync(compiler, args, { stdio: 'inherit' });
if (result.error) skip(`${compiler}: ${result.error.message}`);
if (result.status !== 0) skip(`${compiler} exited with ${result.status}`);
console.log(`rir native GEMM built: ${path.relative(process.cwd(), output)}`);
