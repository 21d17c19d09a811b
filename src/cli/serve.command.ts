import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('serve')
    .description('Start the HTTP service (embedded PGlite in DATA_DIR unless DATABASE_URL is set)')
    .option('--port <n>', 'port to listen on (PORT)')
    .option('--host <host>', 'interface to listen on (HOST)')
    .option('--data-dir <dir>', 'data directory (DATA_DIR)')
    .option(
      '--role <role>',
      'api (HTTP, enqueues jobs), worker (runs jobs, no HTTP) or all (SERVE_ROLE, default all)',
    )
    .option('--demo [count]', 'fill an empty gallery with MNIST test images (default 1000)')
    .action(async (opts: { port?: string; host?: string; dataDir?: string; role?: string }) => {
      // Loaded here so that other commands do not pay for Nest's start-up.
      const { bootstrap, createApp } = await import('../main');
      const env = {
        PORT: opts.port,
        HOST: opts.host,
        DATA_DIR: opts.dataDir,
        SERVE_ROLE: opts.role,
      };
      if ((opts.role ?? process.env.SERVE_ROLE) !== 'worker') {
        const app = await bootstrap({ env });
        const { loadDemoOption } = await import('../modules/gallery/demo-gallery');
        await loadDemoOption(app, opts);
        return;
      }
      // A worker claims and runs jobs (JobRunner) and serves no HTTP.
      const { app } = await createApp({ env });
      app.enableShutdownHooks();
      // Nest buffers logs until an HTTP app listens; a worker never does, so it must flush them
      // itself (else nothing it logs, job outcomes and resumes included, is ever written).
      app.flushLogs();
      console.log(`rir worker started (pid ${process.pid})`);
    });
}
