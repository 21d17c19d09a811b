/**
 * Worker-thread entry of a security probe (a `probe` job): its own tfjs backend, the pure runner,
 * progress posted back, and the report plus the example pixels as the thread's result.
 */
import { initBackend } from '../ml/backend';
import { serveJobThread } from '../modules/jobs/job-thread';
import { runProbe, type ProbeInput } from '../modules/probes/runner/run-probe';

export interface ProbeThreadData {
  input: ProbeInput;
  backend?: string;
}

serveJobThread(async (data, thread) => {
  const { input, backend } = data as ProbeThreadData;
  await initBackend(backend);
  const { report, images } = await runProbe(input, {
    signal: thread.signal,
    cancelled: () => thread.cancelled(),
    reportProgress: (progress) =>
      thread.reportProgress({
        phase: progress.phase,
        fraction: progress.fraction,
        ...(progress.message ? { message: progress.message } : {}),
      }),
  });
  return { report, images };
});
