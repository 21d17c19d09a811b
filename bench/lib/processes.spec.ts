import { ChildProcess, spawn } from 'child_process';
import { cpuSeconds, stopChild } from './processes';

/** A node child that prints 'ready' once it runs (and, if asked, once it ignores SIGTERM). */
async function startChild(ignoreSigterm: boolean): Promise<ChildProcess> {
  const code = `${ignoreSigterm ? "process.on('SIGTERM', () => {});" : ''} console.log('ready'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('error', reject);
  });
  return child;
}

describe('stopChild (every bench stops what it starts)', () => {
  const quiet = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  afterAll(() => quiet.mockRestore());

  it('stops a child that exits on SIGTERM', async () => {
    const child = await startChild(false);
    await expect(stopChild(child)).resolves.toBe('exited');
    expect(child.signalCode).toBe('SIGTERM');
  });

  it('kills a child that ignores SIGTERM once the grace period is over, and says so', async () => {
    const child = await startChild(true);
    await expect(stopChild(child, { graceMs: 200, name: 'stubborn server' })).resolves.toBe(
      'killed',
    );
    expect(child.signalCode).toBe('SIGKILL');
    expect(quiet).toHaveBeenCalledWith(
      expect.stringMatching(/^stubborn server \(pid \d+\) did not exit/),
    );
  });

  it('does nothing to a child that has already exited', async () => {
    const child = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    await new Promise((resolve) => child.once('exit', resolve));
    await expect(stopChild(child)).resolves.toBe('already-exited');
  });
});

describe('cpuSeconds', () => {
  const linux = process.platform === 'linux' ? it : it.skip;

  linux('reads a running process: user and system seconds, which only grow', () => {
    let spin = 0;
    const first = cpuSeconds(process.pid);
    for (let i = 0; i < 2e7; i++) spin += i % 7;
    const second = cpuSeconds(process.pid);
    expect(spin).toBeGreaterThan(0);
    expect(first.user).toBeGreaterThanOrEqual(0);
    expect(first.system).toBeGreaterThanOrEqual(0);
    expect(second.user + second.system).toBeGreaterThanOrEqual(first.user + first.system);
  });

  it('gives NaN for a process that is not there', () => {
    const { user, system } = cpuSeconds(undefined);
    expect(user).toBeNaN();
    expect(system).toBeNaN();
  });
});
