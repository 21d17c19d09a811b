import { createApp } from '../../src/main';
import { runCli } from '../utils/run-cli';

describe('configuration at start-up', () => {
  it('createApp refuses an invalid PORT, naming the variable', async () => {
    await expect(createApp({ env: { PORT: 'eighty', LOG_LEVEL: 'silent' } })).rejects.toThrow(
      /Invalid configuration:\n {2}PORT: .*\(got 'eighty'\)/,
    );
  });

  it('rir serve exits with status 1 and names the invalid variable', async () => {
    const res = await runCli(['serve'], { PORT: '99999', DATA_DIR: '/nonexistent/never-created' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('PORT: PORT must not be greater than 65535');
  });
});
