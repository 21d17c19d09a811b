import { promises as fs } from 'fs';
import * as path from 'path';
import { runCli } from '../../test/support/cli';
import { temporaryFolder } from '../../test/support/folders';
import { initBackend } from '../ml/backend';
import type { RobustnessReport } from '../ml/robustness/report';

// `rir reproduce --seeds` on the tiny `smoke` budget (2 training steps, 4 attacked queries): the numbers
// mean nothing, the layout and the page are what is checked.
const tmp = temporaryFolder('rir-reproduce-seeds-');

beforeAll(async () => {
  await initBackend(process.env.TFJS_BACKEND ?? 'wasm');
});

const reproduce = (...args: string[]) => runCli('reproduce', ...args);

describe('rir reproduce --seeds', () => {
  it('rejects repeated seeds before anything trains', async () => {
    await expect(
      reproduce('--budget', 'smoke', '--seeds', '1,1', '--out', path.join(tmp.path, 'never')),
    ).rejects.toThrow(/seeds must be distinct/);
    await expect(fs.access(path.join(tmp.path, 'never'))).rejects.toThrow();
  });

  it('trains and attacks every configuration once per seed and reports mean and spread over seeds', async () => {
    const lines: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((line: string) => {
      lines.push(String(line));
    });
    const results = path.join(tmp.path, 'RESULTS.md');
    try {
      await reproduce(
        '--datasets',
        'mnist',
        '--defenses',
        'none',
        '--budget',
        'smoke',
        '--seeds',
        '0,1',
        '--out',
        tmp.path,
        '--results',
        results,
      );
    } finally {
      log.mockRestore();
    }
    // The first seed where a single-seed run puts it, the second beside it.
    const first = JSON.parse(
      await fs.readFile(path.join(tmp.path, 'mnist', 'none', 'report.json'), 'utf8'),
    ) as RobustnessReport;
    const second = JSON.parse(
      await fs.readFile(path.join(tmp.path, 'seed-1', 'mnist', 'none', 'report.json'), 'utf8'),
    ) as RobustnessReport;
    expect([first.options.seed, second.options.seed]).toEqual([0, 1]);
    expect(second.estimates.figures['ES:R']).toMatchObject({ n: 4, method: 'wilson' });
    // 4 queries: the log says the intervals are wide (Wilson at 2 of 4: [15.0, 85.0], +-35 points).
    expect(lines.join('\n')).toMatch(
      /note: budget 'smoke' attacks 4 queries on mnist: its intervals are wide \(up to ±35\.0 points/,
    );
    const page = await fs.readFile(results, 'utf8');
    expect(page).toMatch(/^\| none \(seed 0\) \| .*% \[.*\], n = 4 \|/m);
    expect(page).toMatch(/^\| none \(seed 1\) \| /m);
    expect(page).toContain('Over seeds (0, 1): mean ± standard deviation (min..max)');
    expect(page).toMatch(/^\| none \| 2 \| /m);
    expect(page).toContain('attack fewer than 1,000): the intervals are wide');
  }, 600_000);
});
