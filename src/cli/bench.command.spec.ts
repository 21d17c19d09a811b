import { existsSync, mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { Command } from 'commander';
import { packageRoot } from '../common/package-root';
import { BENCH_ENTRY, DEFAULT_TORCH_SCRIPT, loadBench, register } from './bench.command';

describe('rir bench', () => {
  it('loads the benchmark from bench/ of the checkout it runs in', () => {
    expect(existsSync(path.join(packageRoot(), BENCH_ENTRY))).toBe(true);
    expect(typeof loadBench().runBench).toBe('function');
  });

  it('says that the benchmark needs a source checkout where bench/ is absent (the built image)', () => {
    const bare = mkdtempSync(path.join(tmpdir(), 'rir-no-bench-'));
    try {
      expect(() => loadBench(bare)).toThrow(
        /reference-net benchmark is not part of this installation: it runs bench\/reference-net\/run\.ts from a source checkout/,
      );
    } finally {
      rmSync(bare, { recursive: true, force: true });
    }
  });

  it("defaults --torch to the repository's own PyTorch baseline, run with python3", () => {
    const program = new Command();
    register(program);
    const bench = program.commands.find((command) => command.name() === 'bench')!;
    expect(bench.getOptionValue('torchScript')).toBe(DEFAULT_TORCH_SCRIPT);
    expect(bench.getOptionValue('python')).toBe('python3');
    expect(existsSync(path.join(packageRoot(), DEFAULT_TORCH_SCRIPT))).toBe(true);
  });
});
