/**
 * Gradient kernels that stock tfjs-backend-wasm lacks (Conv2DBackpropFilter, depthwise backprop).
 * Placeholder registry: returns the names of the kernels it registered.
 */
export function registerWasmGradientKernels(): string[] {
  return [];
}
