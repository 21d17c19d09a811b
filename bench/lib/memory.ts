/** What a bench's memory figures are read from: this process after full garbage collections. */
import * as v8 from 'v8';
import { nativeHeapInUse } from '../../src/ml/backend/native-kernels';

export interface MemorySnapshot {
  /** Resident set size, bytes. */
  rss: number;
  /** The C heap in use (hnswlib, ArrayBuffers), bytes; null without the native addon or glibc. */
  cHeap: number | null;
  /** V8's heap in use, bytes. */
  jsHeap: number;
}

/**
 * Memory after two full GCs (the second collects what the first's finalisers freed). Without node's
 * --expose-gc there is no GC to force and the figures include garbage: scripts that report memory
 * check for global.gc first.
 */
export function memoryAfterGc(): MemorySnapshot {
  global.gc?.();
  global.gc?.();
  return {
    rss: process.memoryUsage().rss,
    cHeap: nativeHeapInUse(),
    jsHeap: v8.getHeapStatistics().used_heap_size,
  };
}
