/**
 * The command-line specs' fixtures: the CLI run in-process, its stdout captured, and tiny saved models
 * to point it at.
 */
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli';
import { saveModel, type ModelManifest } from '../../src/ml/model-store';
import { createEmbeddingModel } from '../../src/ml/models';

/** The real program, but a usage error rejects instead of exiting, and commander prints nothing. */
export function cliProgram(): Command {
  return buildProgram()
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
}

/** A command line's words, written as one string in a spec (split on spaces: no quoting). */
export function words(line: string): string[] {
  return line.trim().split(/\s+/);
}

/** Runs `rir ...args` in-process. */
export function runCli(...args: string[]): Promise<Command> {
  return cliProgram().parseAsync(['node', 'rir', ...args]);
}

/** Runs `run` with stdout captured and stderr silenced; returns what it printed on stdout. */
export async function captureStdout(run: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return chunks.join('');
}

/** Saves a fresh small CNN (8-dimensional embeddings) for size x size grey images as the version `dir`. */
export async function saveTinyModel(
  dir: string,
  { size = 28, seed = 1 }: { size?: number; seed?: number } = {},
): Promise<ModelManifest> {
  const model = await createEmbeddingModel({
    backbone: 'small-cnn',
    inputShape: [size, size, 1],
    embeddingDim: 8,
    seed,
  });
  try {
    return await saveModel(dir, model);
  } finally {
    model.dispose();
  }
}
