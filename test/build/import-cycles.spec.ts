/**
 * No import cycles in src/: none between files (what `madge --circular` reports; type-only imports,
 * re-exports and dynamic imports count too), and none between the feature modules of src/modules
 * (a file of search importing models while a file of models imports search is a cycle of the two
 * features even when no two files import each other).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const SRC = path.resolve(__dirname, '../../src');
const MODULES = path.join(SRC, 'modules');

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.ts$/.test(entry.name) && !/\.d\.ts$/.test(entry.name) ? [full] : [];
  });
}

/** The file a relative specifier names (x.ts or x/index.ts), or null for packages and other files. */
function resolveImport(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  const base = path.resolve(path.dirname(from), specifier);
  for (const candidate of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (/\.ts$/.test(candidate) && fs.existsSync(candidate) && fs.statSync(candidate).isFile())
      return candidate;
  }
  return null;
}

function importGraph(files: readonly string[]): Graph {
  const graph: Graph = new Map();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
    const targets = importedFiles
      .map((imported) => resolveImport(file, imported.fileName))
      .filter((target): target is string => target !== null);
    graph.set(file, new Set(targets));
  }
  return graph;
}

/** The graph of groups: an edge a -> b where some file of a imports some file of b. */
function groupGraph(graph: Graph, groupOf: (file: string) => string | null): Graph {
  const groups: Graph = new Map();
  for (const [file, targets] of graph) {
    const from = groupOf(file);
    if (from === null) continue;
    if (!groups.has(from)) groups.set(from, new Set());
    for (const target of targets) {
      const to = groupOf(target);
      if (to !== null && to !== from) groups.get(from)!.add(to);
    }
  }
  return groups;
}

/** One cycle of each strongly connected component with more than one node (or a self-import). */
function findCycles(graph: Graph): string[][] {
  const order = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    order.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!graph.has(next)) continue;
      if (!order.has(next)) {
        visit(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, order.get(next)!));
      }
    }
    if (low.get(node) !== order.get(node)) return;
    const component = new Set<string>();
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.add(member);
    } while (member !== node);
    if (component.size > 1 || graph.get(node)!.has(node))
      cycles.push(cycleWithin(graph, component, node));
  };
  for (const node of graph.keys()) if (!order.has(node)) visit(node);
  return cycles;
}

/** A path node -> ... -> node inside one component (breadth first, so the shortest). */
function cycleWithin(graph: Graph, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!component.has(next)) continue;
      if (next === start) {
        const cycle = [start];
        for (let at = node; at !== start; at = previous.get(at)!) cycle.splice(1, 0, at);
        return [...cycle, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start, start];
}

const show = (cycles: string[][]): string[] =>
  cycles.map((cycle) =>
    cycle.map((node) => (path.isAbsolute(node) ? path.relative(SRC, node) : node)).join(' -> '),
  );

describe('import cycles in src/', () => {
  const graph = importGraph(sourceFiles(SRC));

  it('reads the imports of every file (sanity check of the graph)', () => {
    expect(graph.size).toBeGreaterThan(100);
    const appModule = graph.get(path.join(SRC, 'app.module.ts'))!;
    expect([...appModule].map((file) => path.relative(SRC, file))).toContain(
      path.join('modules', 'search', 'search.module.ts'),
    );
  });

  it('has no cycle between files', () => {
    expect(show(findCycles(graph))).toEqual([]);
  });

  it('has no cycle between the feature modules of src/modules', () => {
    const featureOf = (file: string): string | null => {
      const relative = path.relative(MODULES, file);
      return relative.startsWith('..') ? null : relative.split(path.sep)[0];
    };
    const features = groupGraph(graph, featureOf);
    expect(show(findCycles(features))).toEqual([]);
  });

  it('finds a cycle where there is one', () => {
    const toy: Graph = new Map([
      ['a', new Set(['b'])],
      ['b', new Set(['c'])],
      ['c', new Set(['a', 'd'])],
      ['d', new Set<string>()],
      ['e', new Set(['e'])],
    ]);
    expect(findCycles(toy).map((cycle) => cycle.join(' '))).toEqual(
      expect.arrayContaining(['a b c a', 'e e']),
    );
    expect(findCycles(toy)).toHaveLength(2);
  });
});
