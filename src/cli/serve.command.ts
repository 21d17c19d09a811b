import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('serve')
    .description('Start the HTTP service (embedded PGlite in DATA_DIR unless DATABASE_URL is set)')
    .option('--port <n>', 'port to listen on (PORT)')
    .option('--host <host>', 'interface to listen on (HOST)')
    .option('--data-dir <dir>', 'data directory (DATA_DIR)')
    .action(async (opts: { port?: string; host?: string; dataDir?: string }) => {
      // Loaded here so that other commands do not pay for Nest's start-up.
      const { bootstrap } = await import('../main');
      await bootstrap({ env: { PORT: opts.port, HOST: opts.host, DATA_DIR: opts.dataDir } });
    });
}
