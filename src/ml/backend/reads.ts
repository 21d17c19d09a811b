/**
 * Reading tensor values back to JavaScript on every backend, webgpu in Node included.
 *
 * tfjs-backend-webgpu reads synchronously (dataSync) through an OffscreenCanvas, which Node does not
 * have: on Dawn for Node only `await data()` works. Most of the ML core reads asynchronously at its
 * loops' edges, but some reads sit inside synchronous code that cannot wait, such as the miners of a
 * metric loss, which pick triplets from the distances of embeddings computed inside the gradient tape.
 * For those:
 * - `readValues(t)` is dataSync where the backend reads synchronously;
 * - inside `withReads(unit)` on webgpu, a read whose values are not known yet stops the unit (a
 *   `PendingRead`), the values are read asynchronously and the unit runs again from its start, this time
 *   getting them at that read. A unit must therefore be deterministic given its inputs (seeded tensor
 *   randomness only; no JS random stream advanced before a read), and should make few reads: each one
 *   costs a rerun of what comes before it (a metric loss: one extra forward pass per step).
 * Synchronous host-side maths on arrays (retrieval metrics, k-means) runs on a backend that reads
 * synchronously (`onHostBackend`).
 */
import * as tf from '@tensorflow/tfjs';

type Values = tf.TypedArray;

/** Thrown through a unit when a read's values are not yet known: withReads catches it, reads, reruns. */
export class PendingRead extends Error {
  constructor(readonly tensor: tf.Tensor) {
    super('a tensor read is pending (withReads reads it and reruns the unit)');
    this.name = 'PendingRead';
  }
}

interface Replay {
  /** Values of the unit's reads so far, in order, with the shape they were read with. */
  reads: Array<{ shape: number[]; values: Values }>;
  next: number;
}

let replay: Replay | null = null;

/** The tfjs-backend-webgpu internals a synchronous read may use: values still held on the CPU. */
interface CpuCopies {
  tensorMap?: { get(dataId: object): { values?: Values | null } | undefined };
}

/** Whether the active backend can read a GPU result synchronously (not webgpu without OffscreenCanvas). */
export function readsSynchronously(): boolean {
  return (
    tf.getBackend() !== 'webgpu' ||
    typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined'
  );
}

/** Values the webgpu backend still holds on the CPU (data never uploaded): a free synchronous read. */
function cpuCopy(t: tf.Tensor): Values | null {
  const backend = tf.backend() as unknown as CpuCopies;
  return backend.tensorMap?.get(t.dataId)?.values ?? null;
}

/**
 * `t.dataSync()` on a backend that reads synchronously; on webgpu, the values withReads fetched for this
 * read, or a PendingRead that makes it fetch them. Outside withReads on webgpu: an error naming the fix.
 */
export function readValues<T extends Values = Float32Array>(t: tf.Tensor): T {
  if (readsSynchronously() || cpuCopy(t)) return t.dataSync() as T;
  if (!replay) {
    throw new Error(
      `synchronous read of a [${t.shape.join(', ')}] tensor on webgpu: Node has no synchronous GPU read; ` +
        'run this code inside withReads (src/ml/backend/reads.ts) or read with await data()',
    );
  }
  const index = replay.next++;
  const known = replay.reads[index];
  if (!known) throw new PendingRead(tf.keep(t.clone()));
  if (known.shape.join() !== t.shape.join()) {
    throw new Error(
      `withReads: read ${index} of the rerun has shape [${t.shape.join(', ')}], the first run's had ` +
        `[${known.shape.join(', ')}]: the unit is not deterministic`,
    );
  }
  return known.values as T;
}

/**
 * Runs `unit`, a synchronous computation that may call readValues, to completion on any backend.
 * Where reads are synchronous it runs once, as a plain call; on webgpu once more per read it makes.
 */
export async function withReads<T>(unit: () => T): Promise<T> {
  if (readsSynchronously()) return unit();
  if (replay) throw new Error('withReads does not nest');
  const reads: Replay['reads'] = [];
  // Side effects on variables (batch norm's moving statistics, updated by a training-mode forward
  // pass) must happen once: each rerun starts from the values before the first run. A clone shares
  // its variable's data, so the snapshot copies nothing.
  const variables = Object.values(tf.engine().registeredVariables);
  const before = variables.map((v) => tf.clone(v));
  try {
    for (;;) {
      const result = runOnce(unit, reads);
      if (!(result instanceof PendingRead)) return result.value;
      try {
        reads.push({ shape: result.tensor.shape, values: await result.tensor.data() });
      } finally {
        result.tensor.dispose();
      }
      variables.forEach((v, i) => {
        if (v.dataId !== before[i].dataId && !v.isDisposed) v.assign(before[i]);
      });
    }
  } finally {
    tf.dispose(before);
  }
}

function runOnce<T>(unit: () => T, reads: Replay['reads']): { value: T } | PendingRead {
  replay = { reads, next: 0 };
  try {
    return { value: unit() };
  } catch (error) {
    if (error instanceof PendingRead) return error;
    throw error;
  } finally {
    replay = null;
  }
}

/**
 * Runs synchronous maths on JavaScript arrays (tensors made and read inside `fn` only) on a backend
 * that reads synchronously: the active one, or, on webgpu, wasm (else cpu), switched to and back
 * within this call. Tensors of the active backend must not flow in or out.
 */
export function onHostBackend<T>(fn: () => T): T {
  if (readsSynchronously()) return fn();
  const active = tf.getBackend();
  // wasm where this process has started it already (its start is asynchronous), else the plain JS one.
  const host = 'wasm' in tf.engine().registry ? 'wasm' : 'cpu';
  // For a backend already initialised, setBackend switches before its first await.
  void tf.setBackend(host);
  if (tf.getBackend() !== host) throw new Error(`could not switch to the ${host} backend`);
  try {
    return fn();
  } finally {
    void tf.setBackend(active);
  }
}

/**
 * Code that reads values back at known points, written once for both kinds of backend: a generator
 * that yields each tensor whose values it needs (it keeps ownership) and receives them. `readNow` runs it
 * with synchronous reads, `readLater` with `await data()` (every backend, webgpu included).
 */
export type Reads<T> = Generator<tf.Tensor, T, Values>;

export function readNow<T>(steps: Reads<T>): T {
  let next = steps.next();
  while (!next.done) {
    let values: Values;
    try {
      values = readValues(next.value);
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(values);
  }
  return next.value;
}

export async function readLater<T>(steps: Reads<T>): Promise<T> {
  let next = steps.next();
  while (!next.done) {
    let values: Values;
    try {
      values = await next.value.data();
    } catch (error) {
      next = steps.throw(error);
      continue;
    }
    next = steps.next(values);
  }
  return next.value;
}
