/**
 * The build (`npm run build`: tsc -p tsconfig.build.json -> dist/) holds production code only: no
 * spec, experiment, benchmark or test-support file is compiled into it, whether listed by the config's
 * include/exclude or pulled in by an import. The program is read exactly as tsc reads it (the files
 * `tsc -p tsconfig.build.json --listFilesOnly` prints), without emitting anything.
 */
import * as path from 'path';
import * as ts from 'typescript';

const ROOT = path.resolve(__dirname, '..', '..');

/** The repository files tsc compiles for the build, relative to the root (declarations left out). */
function buildSources(): string[] {
  const configFile = path.join(ROOT, 'tsconfig.build.json');
  const { config, error } = ts.readConfigFile(configFile, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, ROOT, undefined, configFile);
  const program = ts.createProgram(parsed.fileNames, { ...parsed.options, noEmit: true });
  return program
    .getSourceFiles()
    .map((file) => path.relative(ROOT, file.fileName))
    .filter((file) => !file.split(path.sep).includes('node_modules') && !file.endsWith('.d.ts'))
    .map((file) => file.split(path.sep).join('/'))
    .sort();
}

/** Module specifiers a TypeScript file imports (import, export from, require, import()). */
function importsOf(file: string): string[] {
  const text = ts.sys.readFile(path.join(ROOT, file)) ?? '';
  return ts.preProcessFile(text, true, true).importedFiles.map((imported) => imported.fileName);
}

describe('the build output', () => {
  let sources: string[];
  beforeAll(() => {
    sources = buildSources();
  });

  it('compiles the service and the command line', () => {
    expect(sources).toEqual(expect.arrayContaining(['src/main.ts', 'src/cli.ts']));
    expect(sources.some((file) => file.startsWith('migrations/'))).toBe(true);
  });

  it('holds only src/ and migrations/, nothing from test/ or bench/', () => {
    expect(sources.filter((file) => !/^(src|migrations)\//.test(file))).toEqual([]);
  });

  it('holds no spec, experiment, benchmark or test-support file', () => {
    const notProduction =
      /\.(spec|e2e-spec|experiment|bench)\.ts$|(^|\/)(benchmark[^/]*|reference-net|fixtures|[^/]*-fixtures|small-cnn-f64|kernel-test-values)\.ts$/;
    expect(sources.filter((file) => notProduction.test(file))).toEqual([]);
  });

  it('src/ml/backend imports nothing from the layers above it (models, losses, defences, training)', () => {
    const backend = sources.filter((file) => file.startsWith('src/ml/backend/'));
    expect(backend.length).toBeGreaterThan(0);
    const upward = backend.flatMap((file) =>
      importsOf(file)
        .filter((specifier) => specifier.startsWith('..'))
        .map((specifier) => `${file}: ${specifier}`),
    );
    expect(upward).toEqual([]);
  });
});
