/**
 * Worker-thread entry of attack work, for the CLI and the HTTP API alike: its own tfjs backend, then
 * either a robustness evaluation (`rir attack`, `rir eval --attacks`: the report) or a security probe
 * (a `probe` job: the report plus the example pixels). Progress is posted as data.
 */
import { initBackend } from '../ml/backend';
import type { AttackProgress } from '../ml/attacks/suite';
import { evaluateRobustness, type RobustnessRequest } from '../ml/robustness/evaluate';
import type { RobustnessReport } from '../ml/robustness/report';
import {
  runProbe,
  type ProbeInput,
  type ProbeOutcome,
  type ProbeProgress,
} from '../modules/probes/runner/run-probe';
import { serveThread } from './thread';

export type AttackThreadInput =
  | { kind: 'evaluate'; request: RobustnessRequest; backend?: string }
  | { kind: 'probe'; input: ProbeInput; backend?: string };

/** `evaluate` reports each attack batch; `probe` its phase and share done. */
export type AttackThreadProgress = AttackProgress | ProbeProgress;

export type AttackThreadResult = RobustnessReport | ProbeOutcome;

serveThread<AttackThreadInput, AttackThreadResult, AttackThreadProgress>(async (work, thread) => {
  await initBackend(work.backend);
  if (work.kind === 'evaluate')
    return evaluateRobustness(work.request, (progress) => thread.reportProgress(progress));
  return runProbe(work.input, {
    signal: thread.signal,
    cancelled: () => thread.cancelled(),
    reportProgress: (progress) => thread.reportProgress(progress),
  });
});
