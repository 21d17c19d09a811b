/**
 * Command-line helpers shared by the bench scripts: `--name value` options, `--flag` switches, and
 * `runMain`, which ends the process once the script is done (so a stray handle cannot keep it alive
 * after its result is printed).
 */

/** The value after `--name`, or `fallback` when the option is absent (or has no value). */
export function arg(
  name: string,
  fallback: string,
  argv: readonly string[] = process.argv,
): string {
  const at = argv.indexOf(`--${name}`);
  const value = at >= 0 ? argv[at + 1] : undefined;
  return value !== undefined && value !== '' && !value.startsWith('--') ? value : fallback;
}

/** `--name N` as a finite number; a value that is not one stops the script with a message. */
export function numberArg(
  name: string,
  fallback: number,
  argv: readonly string[] = process.argv,
): number {
  const text = arg(name, String(fallback), argv);
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`--${name}: expected a number, got '${text}'`);
  return value;
}

/** Whether the switch `--name` is present. */
export function flag(name: string, argv: readonly string[] = process.argv): boolean {
  return argv.includes(`--${name}`);
}

/**
 * Runs a script's main function and exits: 0 when it resolves, 1 (with the error on stderr) when it
 * throws. Whatever the script started (child processes, servers, workers) must be stopped by `main`
 * itself (see processes.ts); this only makes sure the bench process does not linger afterwards.
 */
export function runMain(name: string, main: () => Promise<void> | void): void {
  Promise.resolve()
    .then(main)
    .then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(
          `${name}: ${error instanceof Error ? (error.stack ?? error.message) : error}`,
        );
        process.exit(1);
      },
    );
}
