import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { registerFusedGradients } from './fused-gradients';

/** Backends in the order they are tried when TFJS_BACKEND does not name one. */
export const BACKEND_ORDER = ['tensorflow-gpu', 'tensorflow', 'webgpu', 'wasm'] as const;
export type BackendName = (typeof BACKEND_ORDER)[number] | 'cpu';

export interface BackendInfo {
  name: string;
  requested: string;
  simd: boolean | null;
  gpu: boolean;
  kernelsPatched: string[];
  /** The native BLAS behind the wasm conv/matmul kernels (e.g. libdnnl.so.2), null when pure wasm. */
  nativeGemm?: string | null;
}

let active: BackendInfo | null = null;
let pending: Promise<BackendInfo> | null = null;

/** Packages that register each backend with tfjs when required. */
const PACKAGE: Record<Exclude<BackendName, 'cpu'>, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  webgpu: '@tensorflow/tfjs-backend-webgpu',
  wasm: '@tensorflow/tfjs-backend-wasm',
};

/** Backends that run on a GPU: one per process, so callers keep work on one thread instead of workers. */
export const GPU_BACKENDS: readonly string[] = ['tensorflow-gpu', 'webgpu'];

/** Dawn's addon as the `webgpu` package exports it. */
interface DawnModule {
  create(flags: string[]): unknown;
  globals: object;
}

/**
 * The `webgpu` package is an ES module, which `require` loads only on Node >= 20.19 and not inside Jest's
 * module runtime: there, its addon (what index.js wraps) is loaded directly.
 */
function loadDawn(): DawnModule {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('webgpu') as DawnModule;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_REQUIRE_ESM') throw error;
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    const addon = path.join(
      path.dirname(require.resolve('webgpu')),
      'dist',
      `${process.platform}-${arch}`,
      'dawn.node',
    );
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(addon) as DawnModule;
  }
}

/**
 * Node has no WebGPU of its own: the optional `webgpu` package (Dawn, over Vulkan) provides
 * navigator.gpu, which tfjs-backend-webgpu looks for when it is first required. Neither package is a
 * production dependency (Dawn's binaries for every platform are 130 MB; they are devDependencies, for
 * the tests): `npm install webgpu @tensorflow/tfjs-backend-webgpu` enables the backend on a machine with
 * a Vulkan GPU driver.
 */
export function provideWebGpu(): Error | null {
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  if (scope.navigator?.gpu) return null;
  try {
    const dawn = loadDawn();
    Object.assign(globalThis, dawn.globals);
    scope.navigator = { ...(scope.navigator ?? {}), gpu: dawn.create([]) };
    return null;
  } catch (error) {
    return error as Error;
  }
}

function tryRequire(pkg: string): Error | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require(pkg);
    return null;
  } catch (error) {
    // tfjs-node fails in several ways (missing module, missing libtensorflow binary): any error means "not here".
    return error as Error;
  }
}

/** Vulkan drivers that run on the CPU (SwiftShader, Mesa's llvmpipe / lavapipe): slower than wasm. */
const SOFTWARE_ADAPTER = /swiftshader|llvmpipe|lavapipe|software/i;

interface AdapterLike {
  isFallbackAdapter?: boolean;
  info?: { description?: string; architecture?: string; device?: string };
}

/** The WebGPU adapter tfjs will get, described, and whether it emulates a GPU on the CPU. */
async function describeAdapter(): Promise<{ name: string; software: boolean } | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(o?: object): unknown } } })
    .navigator?.gpu;
  const adapter = (await gpu?.requestAdapter({ powerPreference: 'high-performance' })) as
    AdapterLike | null | undefined;
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const name = [info.description, info.architecture, info.device].filter(Boolean).join(' / ');
  return { name, software: adapter.isFallbackAdapter === true || SOFTWARE_ADAPTER.test(name) };
}

async function start(name: BackendName, automatic = false): Promise<BackendInfo> {
  const kernelsPatched: string[] = [];
  let nativeGemm: string | null = null;
  if (name === 'webgpu') {
    const failure = provideWebGpu();
    if (failure)
      throw new Error(`webgpu (Dawn for Node) is not available: ${failure.message.split('\n')[0]}`);
    const adapter = await describeAdapter();
    if (!adapter) throw new Error('webgpu: Dawn found no GPU adapter (no Vulkan driver?)');
    // A CPU-emulated GPU is chosen only when asked for by name (the tests run on SwiftShader).
    if (automatic && adapter.software) {
      throw new Error(
        `webgpu: the only adapter emulates a GPU on the CPU (${adapter.name}); TFJS_BACKEND=webgpu forces it`,
      );
    }
  }
  // The tfjs-node packages register themselves under the name 'tensorflow'.
  const registered = name === 'tensorflow-gpu' ? 'tensorflow' : name;
  // A bundle or the application may have registered the backend already (tfjs-backend-webgpu, say).
  if (name !== 'cpu' && !tf.findBackendFactory(registered)) {
    const failure = tryRequire(PACKAGE[name]);
    if (failure)
      throw new Error(`${PACKAGE[name]} is not available: ${failure.message.split('\n')[0]}`);
  }
  if (registered === 'wasm') {
    const { registerWasmGradientKernels } = await import('./wasm-kernels');
    const { loadNativeGemm } = await import('./native-kernels');
    kernelsPatched.push(...registerWasmGradientKernels());
    nativeGemm = loadNativeGemm().library;
  }
  if (registered === 'webgpu') {
    const { registerWebGpuGradientKernels } = await import('./wasm-kernels');
    kernelsPatched.push(...registerWebGpuGradientKernels());
  }
  registerFusedGradients();
  const ok = await tf.setBackend(registered);
  await tf.ready();
  // setBackend returns false (and tfjs quietly keeps another backend) when initialisation fails.
  if (!ok || tf.getBackend() !== registered) {
    throw new Error(`tfjs backend '${registered}' failed to start (active: ${tf.getBackend()})`);
  }
  const simd = registered === 'wasm' ? tf.env().getBool('WASM_HAS_SIMD_SUPPORT') : null;
  return {
    name: registered,
    requested: name,
    simd,
    gpu: GPU_BACKENDS.includes(name),
    kernelsPatched,
    nativeGemm,
  };
}

/**
 * Selects the fastest backend that starts here, or exactly `requested` (TFJS_BACKEND) and fails loudly
 * when that one cannot start. Idempotent per thread: each worker thread calls it once.
 */
export async function initBackend(requested?: string): Promise<BackendInfo> {
  if (active) return active;
  if (pending) return pending;
  pending = (async () => {
    const wanted = requested?.trim();
    if (wanted) {
      const allowed: string[] = [...BACKEND_ORDER, 'cpu'];
      if (!allowed.includes(wanted)) {
        throw new Error(`TFJS_BACKEND must be one of ${allowed.join(', ')} (got '${wanted}')`);
      }
      active = await start(wanted as BackendName);
      return active;
    }
    const failures: string[] = [];
    for (const name of BACKEND_ORDER) {
      try {
        active = await start(name, true);
        return active;
      } catch (error) {
        failures.push(`${name}: ${(error as Error).message}`);
      }
    }
    // The pure-JS cpu backend is 20-30x slower than wasm: never fall back to it silently.
    throw new Error(`no tfjs backend could start:\n  ${failures.join('\n  ')}`);
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}

export function backendInfo(): BackendInfo | null {
  return active;
}

export { tf };
