/**
 * The docs name files of this repository (`src/...`, `bench/...`, `docs/...`, `test/...`,
 * `migrations/...`, in code spans or in the text, and relative links): each must exist, so that a
 * rename or a deletion that forgets a doc fails here instead of leaving the doc pointing at nothing.
 * Patterns (`*`, `{a,b}`, `<name>`, `...`) are not paths and are skipped, and so are fenced code blocks
 * (examples, not references).
 */
import { existsSync, readdirSync, readFileSync } from 'fs';
import * as path from 'path';

const ROOT = path.resolve(__dirname, '..', '..');

/** The documents checked: README.md, docs/*.md, and the READMEs under bench/. */
function documents(): string[] {
  const docs = readdirSync(path.join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`);
  const benchReadmes = ['bench/README.md', 'bench/gpu/README.md', 'bench/reference-net/README.md'];
  return ['README.md', ...docs, ...benchReadmes].filter((file) =>
    existsSync(path.join(ROOT, file)),
  );
}

const REPOSITORY_PATH = /^(src|bench|docs|test|migrations)\/[^\s]*$/;
const PATTERN = /[*{}<>[\]…]|\.\.\./;

const withoutCodeBlocks = (markdown: string) => markdown.replace(/^```[\s\S]*?^```/gm, '');

/** Repository paths a document names, in code spans or in its text, outside fenced code blocks. */
export function repositoryPaths(markdown: string): string[] {
  return withoutCodeBlocks(markdown)
    .split(/[\s`]+/)
    .map((word) =>
      word
        .replace(/^['"(]+/, '')
        .replace(/'s$/, '')
        .replace(/[.,;:)'"]+$/, ''),
    )
    .filter((word) => REPOSITORY_PATH.test(word) && !PATTERN.test(word));
}

/** Targets of relative markdown links, without their #anchor (web addresses and anchors alone skipped). */
export function linkTargets(markdown: string): string[] {
  return [...withoutCodeBlocks(markdown).matchAll(/\]\(([^)\s]+)\)/g)]
    .map(([, target]) => target.split('#')[0])
    .filter((target) => target !== '' && !/^[a-z]+:/i.test(target));
}

describe('paths named in the docs', () => {
  it('finds paths in code spans, text and links, and leaves patterns and code blocks alone', () => {
    const sample = [
      'See `src/ml/models/layers.ts`, `bench/http-search.bench.ts --dist`, `docs/METHOD.md §6`',
      "and (test/support/cli.ts) and bench/README.md's table.",
      'Patterns: `bench/results/index-100k-*.json`, `src/modules/<feature>/`, `bench/...-uuid.json`.',
      '[archive](benchmarks-archive.md#http) and [a site](https://example.org/x), [here](#top).',
      '```sh',
      'node bench/not-checked.ts',
      '```',
    ].join('\n');
    expect(repositoryPaths(sample)).toEqual([
      'src/ml/models/layers.ts',
      'bench/http-search.bench.ts',
      'docs/METHOD.md',
      'test/support/cli.ts',
      'bench/README.md',
    ]);
    expect(linkTargets(sample)).toEqual(['benchmarks-archive.md']);
  });

  it.each(documents())('%s names only files that exist', (file) => {
    const markdown = readFileSync(path.join(ROOT, file), 'utf8');
    const missing = [
      ...repositoryPaths(markdown).filter((target) => !existsSync(path.join(ROOT, target))),
      ...linkTargets(markdown).filter(
        (target) => !existsSync(path.resolve(ROOT, path.dirname(file), target)),
      ),
    ];
    expect(missing).toEqual([]);
  });
});
