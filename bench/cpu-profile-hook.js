/**
 * Preload for profiling a running server under load: `node -r ./bench/cpu-profile-hook.js ...`.
 * The first SIGWINCH starts V8's sampling profiler, the second writes the profile (Chrome DevTools
 * .cpuprofile format) to RIR_CPU_PROFILE-<n>.cpuprofile (n = 1, 2, ...) and stops. Used by bench/http-search.bench.ts --cpu-prof, so the
 * profile covers only the load run (`--cpu-prof` itself writes only on a clean exit, and Nest's
 * shutdown re-raises the signal). SIGWINCH because Nest's shutdown hooks listen to SIGUSR2 and Node
 * keeps SIGUSR1 for its debugger; its default action is to do nothing.
 */
const fs = require('fs');
const inspector = require('inspector');

const target = process.env.RIR_CPU_PROFILE;
if (target) {
  const session = new inspector.Session();
  session.connect();
  let running = false;
  let written = 0;
  process.on('SIGWINCH', () => {
    if (!running) {
      running = true;
      session.post('Profiler.enable', () =>
        session.post('Profiler.setSamplingInterval', { interval: 500 }, () =>
          session.post('Profiler.start'),
        ),
      );
      return;
    }
    running = false;
    session.post('Profiler.stop', (error, result) => {
      if (error) console.error(`cpu profile: ${error.message}`);
      else fs.writeFileSync(`${target}-${++written}.cpuprofile`, JSON.stringify(result.profile));
    });
  });
}
