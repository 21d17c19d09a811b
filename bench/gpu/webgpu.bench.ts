/**
 * The reference net on tfjs's WebGPU backend (Dawn for Node, over Vulkan), for a machine with a GPU,
 * bundled into one file with its tfjs packages (bench/gpu/README.md) so that it runs where only a node
 * binary and Dawn's addon can be carried. Prints one JSON line per mode, like `rir bench`.
 *
 *   node webgpu-bench.js [--inputs 28x1,32x3] [--reps 20] [--warmup 5] [--batch B (one batch for every mode)]
 */
import { initBackend, provideWebGpu } from '../../src/ml/backend';
import { benchReferenceNetInThread } from '../reference-net/benchmark';
import { arg, runMain } from '../lib/args';

async function main(): Promise<void> {
  const failure = provideWebGpu();
  if (failure) throw failure;
  // tfjs-backend-webgpu registers itself on import only where navigator.gpu exists: after the line above.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('@tensorflow/tfjs-backend-webgpu');
  const info = await initBackend('webgpu');
  const adapter = await (
    globalThis as unknown as {
      navigator: { gpu: { requestAdapter(): Promise<{ info?: Record<string, string> } | null> } };
    }
  ).navigator.gpu.requestAdapter();
  console.error(JSON.stringify({ backend: info, adapter: adapter?.info ?? null }));
  const reps = Number(arg('reps', '20'));
  const warmup = Number(arg('warmup', '5'));
  const batch = Number(arg('batch', '0'));
  for (const spec of arg('inputs', '28x1,32x3').split(',')) {
    const [height, channels] = spec.split('x').map(Number);
    const rows = await benchReferenceNetInThread({
      height,
      channels,
      reps,
      warmup,
      backend: 'webgpu',
      batch: batch > 0 ? batch : undefined,
    });
    rows.forEach((row) => console.log(JSON.stringify(row)));
  }
}

runMain('webgpu-bench', main);
