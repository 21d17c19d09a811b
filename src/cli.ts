/**
 * The `rir` command line. Each command lives in src/cli/<name>.command.ts and exports
 * `register(program)`; add one line below per command.
 */
import 'reflect-metadata';
import { Command } from 'commander';
import * as serveCommand from './cli/serve.command';
import * as keysCommand from './cli/keys.command';
import * as dbCommand from './cli/db.command';
import * as benchCommand from './cli/bench.command';
import * as attackCommand from './cli/attack.command';
import * as reproduceCommand from './cli/reproduce.command';
import * as trainCommand from './cli/train.command';
import * as evalCommand from './cli/eval.command';
import * as dataCommand from './cli/data.command';
import * as modelCommand from './cli/model.command';
import * as compareCommand from './cli/compare.command';

export function buildProgram(): Command {
  const program = new Command('rir')
    .description('Robust image retrieval: train, attack, evaluate and serve embedding models')
    .showHelpAfterError();
  // Commands register here, one per line:
  serveCommand.register(program);
  keysCommand.register(program);
  dbCommand.register(program);
  benchCommand.register(program);
  attackCommand.register(program);
  reproduceCommand.register(program);
  trainCommand.register(program);
  evalCommand.register(program);
  dataCommand.register(program);
  modelCommand.register(program);
  compareCommand.register(program);
  return program;
}

if (require.main === module || process.argv[1]?.endsWith('rir')) {
  buildProgram()
    .parseAsync(process.argv)
    .catch((error: unknown) => {
      console.error(`rir: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    });
}
