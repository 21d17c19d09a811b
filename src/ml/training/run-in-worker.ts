import * as path from 'path';
import type { TrainingRunInput } from '../../workers/training.worker';
import { runThread, ThreadCancelledError, workerEntry } from '../../workers/thread';
import type { ProgressEvent, ProgressListener } from '../types';
import { TrainingCancelledError, type TrainingResult } from './trainer';

/**
 * Runs a training run in a worker thread (the training entry, which training jobs use too) with its own
 * tfjs backend, so the caller's event loop stays responsive. Progress events arrive through
 * `onProgress`; aborting `signal` cancels the run at the next step, after a checkpoint for --resume (a
 * thread that does not stop within the grace period is terminated; the last checkpoint stays on disk).
 */
export async function runTrainingInWorker(
  config: TrainingRunInput['config'],
  onProgress?: ProgressListener,
  signal?: AbortSignal,
  backend = process.env.TFJS_BACKEND,
): Promise<TrainingResult> {
  if (signal?.aborted) throw new TrainingCancelledError();
  try {
    return await runThread<TrainingResult, ProgressEvent>(
      workerEntry(path.join(__dirname, '..', '..', 'workers'), 'training.worker'),
      { kind: 'run', config, backend } satisfies TrainingRunInput,
      { onProgress, signal },
    );
  } catch (error) {
    // The trainer's own cancel (an AbortError) or a thread stopped after the grace period.
    if (error instanceof ThreadCancelledError || (error as Error).name === 'AbortError')
      throw new TrainingCancelledError();
    throw error;
  }
}
