import * as path from 'path';
import { siblingEntry, spawnWorker } from '../../workers/pool';
import type { ProgressListener } from '../types';
import type { TrainingConfig } from './config';
import { TrainingCancelledError, type TrainingResult } from './trainer';

/** Messages from the training worker. */
export type TrainWorkerMessage =
  | { type: 'progress'; event: Parameters<ProgressListener>[0] }
  | { type: 'result'; result: TrainingResult }
  | { type: 'error'; name: string; message: string };

/** Messages to the training worker. */
export type TrainWorkerCommand = { type: 'cancel' };

export interface TrainWorkerData {
  config: Partial<TrainingConfig> & { dataset: string; outDir: string };
  backend?: string;
}

/**
 * Runs a training job in a worker thread with its own tfjs backend, so the caller's event loop stays
 * responsive. Progress events arrive through `onProgress`; aborting `signal` cancels the run at the next
 * step (the last epoch checkpoint stays on disk for --resume).
 */
export function runTrainingInWorker(
  config: TrainWorkerData['config'],
  onProgress?: ProgressListener,
  signal?: AbortSignal,
  backend = process.env.TFJS_BACKEND,
): Promise<TrainingResult> {
  if (signal?.aborted) return Promise.reject(new TrainingCancelledError());
  const entry = siblingEntry(
    path.join(__dirname, '..', '..', 'workers'),
    'train.worker',
    __filename,
  );
  const worker = spawnWorker(entry, { config, backend } satisfies TrainWorkerData);
  return new Promise<TrainingResult>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | null, result?: TrainingResult) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      void worker.terminate();
      if (error) reject(error);
      else resolve(result!);
    };
    const onAbort = () => worker.postMessage({ type: 'cancel' } satisfies TrainWorkerCommand);
    signal?.addEventListener('abort', onAbort);
    worker.on('message', (message: TrainWorkerMessage) => {
      if (message.type === 'progress') onProgress?.(message.event);
      else if (message.type === 'result') finish(null, message.result);
      else {
        const error =
          message.name === 'AbortError' ? new TrainingCancelledError() : new Error(message.message);
        finish(error);
      }
    });
    worker.on('error', (error) => finish(error));
    worker.on('exit', (code) =>
      finish(new Error(`training worker exited with code ${code} before finishing`)),
    );
  });
}
