/**
 * The load generator of bench/responsiveness.bench.ts, in its own thread so the client does not share
 * the server's event loop: `concurrency` loops of POST /v1/search for `seconds`; answers latencies in ms.
 * Reports 'started' as the loops begin (after the thread's start-up), when the bench starts measuring.
 */
import { serveThread } from '../src/workers/thread';

export interface LoadInput {
  url: string;
  key: string;
  pngs: Buffer[];
  seconds: number;
  concurrency: number;
}

export interface LoadResult {
  latencies: number[];
  errors: number;
}

serveThread<LoadInput, LoadResult, 'started'>(
  async ({ url, key, pngs, seconds, concurrency }, thread) => {
    const latencies: number[] = [];
    let errors = 0;
    const until = Date.now() + seconds * 1000;
    const loop = async (offset: number): Promise<void> => {
      for (let i = offset; Date.now() < until; i += concurrency) {
        const form = new FormData();
        form.append('file', new Blob([pngs[i % pngs.length]], { type: 'image/png' }), 'q.png');
        form.append('k', '10');
        const start = performance.now();
        const res = await fetch(`${url}/v1/search`, {
          method: 'POST',
          body: form,
          headers: { 'x-api-key': key },
        });
        await res.arrayBuffer();
        if (res.status === 200) latencies.push(performance.now() - start);
        else errors++;
      }
    };
    thread.reportProgress('started');
    await Promise.all(Array.from({ length: concurrency }, (_, i) => loop(i)));
    return { latencies, errors };
  },
);
