import NodeModule from 'module';
import type * as PGliteModule from '@electric-sql/pglite';

/**
 * Loads PGlite through Node's own module loader. PGlite's wasm start-up uses dynamic import(),
 * which Jest's module sandbox rejects ("A dynamic import callback was invoked without
 * --experimental-vm-modules"); Node's loader is what a plain `require` uses outside Jest anyway.
 */
export function loadPGlite(): typeof PGliteModule {
  const loader = NodeModule as unknown as {
    _load(request: string, parent: unknown, isMain: boolean): unknown;
  };
  return loader._load(require.resolve('@electric-sql/pglite'), null, false) as typeof PGliteModule;
}
