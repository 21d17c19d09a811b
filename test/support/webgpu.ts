/**
 * The webgpu backend in tests, on machines without a GPU: Debian's chromium package ships SwiftShader, a
 * Vulkan driver that runs on the CPU, whose ICD manifest (`vk_swiftshader_icd.json`) and Vulkan loader
 * (`libvulkan.so.1`) sit in chromium's library folder. Pointing VK_ICD_FILENAMES at that manifest gives
 * Dawn (the `webgpu` package) a "SwiftShader" adapter, on which tfjs-backend-webgpu runs every kernel.
 * Test support only: production code never picks a Vulkan driver for the user.
 *
 * SwiftShader emulates the GPU on the CPU, so its step times say nothing about GPU speed: keep webgpu
 * specs tiny (a few images, a few steps).
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Where Debian (and Ubuntu's chromium packages) install chromium's libraries. */
const CHROMIUM_DIRS = ['/usr/lib/chromium', '/usr/lib/chromium-browser'];
const ICD_MANIFEST = 'vk_swiftshader_icd.json';

export interface WebGpuProbe {
  available: boolean;
  /** The adapter's description (e.g. "SwiftShader driver 5.0.0"), or why no adapter started. */
  detail: string;
}

function swiftShaderDir(): string | null {
  return CHROMIUM_DIRS.find((dir) => fs.existsSync(path.join(dir, ICD_MANIFEST))) ?? null;
}

/**
 * The environment of a child process that runs tfjs on webgpu: VK_ICD_FILENAMES at chromium's SwiftShader
 * unless VK_ICD_FILENAMES or VK_DRIVER_FILES already names a driver (a real GPU's, say), and chromium's
 * folder on LD_LIBRARY_PATH for its Vulkan loader (Debian's libvulkan1 need not be installed). A child,
 * because Jest gives a test file a copy of process.env that the Vulkan loader never sees.
 */
export function webGpuEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, TFJS_BACKEND: 'webgpu' };
  if (base.VK_ICD_FILENAMES || base.VK_DRIVER_FILES) return env;
  const dir = swiftShaderDir();
  if (!dir) return env;
  env.VK_ICD_FILENAMES = path.join(dir, ICD_MANIFEST);
  env.LD_LIBRARY_PATH = [dir, base.LD_LIBRARY_PATH].filter(Boolean).join(':');
  return env;
}

/** A child process's check that Dawn finds an adapter (a test file decides what to skip when it loads). */
const PROBE = `
(async () => {
  const { create } = require('webgpu');
  const adapter = await create([]).requestAdapter();
  if (!adapter) { console.log(JSON.stringify({ available: false, detail: 'Dawn found no GPU adapter' })); process.exit(0); }
  const info = adapter.info || {};
  console.log(JSON.stringify({ available: true, detail: info.description || info.architecture || 'an adapter' }));
  process.exit(0);
})().catch((e) => { console.log(JSON.stringify({ available: false, detail: String(e.message).split('\\n')[0] })); process.exit(0); });
`;

let probed: WebGpuProbe | null = null;

/**
 * Whether tfjs's webgpu backend can start here (on SwiftShader when no driver is set), decided once per
 * process in a child so that a missing or broken driver cannot take the test process down.
 */
export function probeWebGpu(): WebGpuProbe {
  if (probed) return probed;
  try {
    require.resolve('webgpu');
    require.resolve('@tensorflow/tfjs-backend-webgpu');
  } catch {
    probed = {
      available: false,
      detail: 'the optional packages webgpu and @tensorflow/tfjs-backend-webgpu are not installed',
    };
    return probed;
  }
  const env = webGpuEnv();
  try {
    const out = execFileSync(process.execPath, ['-e', PROBE], {
      cwd: path.join(__dirname, '..', '..'),
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 60_000,
    });
    probed = JSON.parse(out.trim().split('\n').pop() ?? '{}') as WebGpuProbe;
  } catch (error) {
    probed = { available: false, detail: `the adapter probe failed: ${(error as Error).message}` };
  }
  if (!probed.available && !env.VK_ICD_FILENAMES && !env.VK_DRIVER_FILES) {
    probed.detail += ` (no ${ICD_MANIFEST}: install Debian's chromium package for SwiftShader)`;
  }
  return probed;
}

/** `it` where webgpu starts, else `it.skip` with the reason appended to the title. */
export function itOnWebGpu(title: string, fn: () => Promise<void>, timeout?: number): void {
  const probe = probeWebGpu();
  if (probe.available) it(`${title} [webgpu: ${probe.detail}]`, fn, timeout);
  else it.skip(`${title} (skipped: no webgpu adapter starts here: ${probe.detail})`, fn);
}
