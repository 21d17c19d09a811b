import * as os from 'os';
import * as path from 'path';
import { runInJobThread } from '../../src/modules/jobs/job-thread';
import type { JobContext } from '../../src/modules/jobs/job-handler';

const ENTRY = path.join(__dirname, 'fixtures', 'priority.worker.ts');

function context(threadNice?: number): JobContext {
  return {
    reportProgress: () => undefined,
    signal: new AbortController().signal,
    checkpointDir: os.tmpdir(),
    attempt: 1,
    threadNice,
  };
}

describe('runInJobThread priority', () => {
  const linux = process.platform === 'linux' ? it : it.skip;

  linux(
    'runs the job thread at the configured nice value and leaves the caller alone',
    async () => {
      const before = os.getPriority();
      const result = await runInJobThread<{ nice: number }>(ENTRY, null, context(7));
      expect(result.nice).toBe(Math.max(7, before));
      expect(os.getPriority()).toBe(before);
    },
    30_000,
  );

  it('keeps the caller priority when no nice value is given', async () => {
    const result = await runInJobThread<{ nice: number }>(ENTRY, null, context());
    expect(result.nice).toBe(os.getPriority());
  }, 30_000);
});
