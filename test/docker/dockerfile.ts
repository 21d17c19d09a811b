/**
 * Reads a Dockerfile's stages and lays out the final (runtime) stage's WORKDIR on disk without a
 * Docker engine: exactly the files its COPY lines bring in, from the build context (minus the
 * Dockerfile's .dockerignore) or from the build stage, so a test can start the image's CMD there.
 */
import * as fs from 'fs';
import * as path from 'path';

export interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

export interface Stage {
  name: string | null;
  base: string;
  instructions: Instruction[];
}

/** The instructions of a Dockerfile, grouped by stage (continuation lines joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const stages: Stage[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i + 1;
    let line = lines[i];
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = line.replace(/\\\s*$/, ' ');
      const next = lines[++i];
      if (!/^\s*#/.test(next)) line += next;
    }
    const match = /^\s*(\w+)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`line ${start}: cannot read '${line}'`);
    const keyword = match[1].toUpperCase();
    const args = match[2].trim();
    if (keyword === 'FROM') {
      const from = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!from) throw new Error(`line ${start}: cannot read FROM ${args}`);
      stages.push({ name: from[2] ?? null, base: from[1], instructions: [] });
    } else {
      if (stages.length === 0) throw new Error(`line ${start}: ${keyword} before FROM`);
      stages[stages.length - 1].instructions.push({ keyword, args, line: start });
    }
  }
  return stages;
}

export interface Copy {
  from: string | null;
  sources: string[];
  dest: string;
  line: number;
}

/** COPY [--from=X] [--chown=..] src... dest (the shell form; the JSON form too). */
export function parseCopy(instruction: Instruction): Copy {
  let words = instruction.args.startsWith('[')
    ? (JSON.parse(instruction.args) as string[])
    : instruction.args.split(/\s+/);
  let from: string | null = null;
  while (words[0]?.startsWith('--')) {
    const flag = /^--(\w+)=(.*)$/.exec(words[0]);
    if (flag?.[1] === 'from') from = flag[2];
    words = words.slice(1);
  }
  if (instruction.args.startsWith('[') === false && words.length < 2)
    throw new Error(`line ${instruction.line}: COPY needs a source and a destination`);
  return {
    from,
    sources: words.slice(0, -1),
    dest: words[words.length - 1],
    line: instruction.line,
  };
}

/** KEY=value pairs of an ENV instruction (values without spaces, as these Dockerfiles write them). */
export function parseEnv(args: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of args.split(/\s+/).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw new Error(`ENV ${args}: expected KEY=value pairs`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1).replace(/^"(.*)"$/, '$1');
  }
  return env;
}

/** .dockerignore patterns as a predicate on context-relative paths (`*`, `**`, exact paths). */
export function dockerignore(file: string): (relative: string) => boolean {
  const patterns = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l && !l.startsWith('#'))
    : [];
  if (patterns.some((p) => p.startsWith('!')))
    throw new Error(`${file}: exceptions (!) are not supported here`);
  const regexes = patterns.map((pattern) => {
    const body = pattern
      .replace(/^\/+|\/+$/g, '')
      .split('/')
      .map((part) =>
        part === '**'
          ? '(?:.*/)?'
          : `${part
              .replace(/[.+^${}()|[\]\\]/g, '\\$&')
              .replace(/\*/g, '[^/]*')
              .replace(/\?/g, '[^/]')}/`,
      )
      .join('');
    // Matching a folder excludes everything inside it.
    return new RegExp(`^${body.replace(/\/$/, '')}(?:/.*)?$`);
  });
  return (relative) => regexes.some((r) => r.test(relative));
}

export interface BuildProducts {
  /** The build stage's `npm ci` result. */
  nodeModules: string;
  /** The build stage's `npm run build` result. */
  dist: string;
}

/**
 * Lays out the runtime (last) stage's WORKDIR in `target`: its COPY lines, in order. A path taken
 * from the build stage must be one that stage has: copied in from the context, or made by its RUN
 * lines (`npm ci`: node_modules, linked; `npm run build`: dist). Returns the stage's ENV, WORKDIR
 * and CMD.
 */
export function layOutRuntimeStage(
  dockerfile: string,
  context: string,
  products: BuildProducts,
  target: string,
): { env: Record<string, string>; workdir: string; cmd: string[] } {
  const stages = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'));
  const runtime = stages[stages.length - 1];
  const ignored = dockerignore(`${dockerfile}.dockerignore`);
  const env: Record<string, string> = {};
  let workdir = '/';
  let cmd: string[] = [];
  const lineage = (stage: Stage): Stage[] => {
    const parent = stages.find((s) => s.name !== null && s.name === stage.base);
    return parent ? [...lineage(parent), stage] : [stage];
  };
  // ENV and WORKDIR carry over from the stages this one is built on.
  for (const stage of lineage(runtime)) {
    for (const instruction of stage.instructions) {
      if (instruction.keyword === 'ENV') Object.assign(env, parseEnv(instruction.args));
      if (instruction.keyword === 'WORKDIR' && stage !== runtime)
        workdir = path.posix.resolve(workdir, instruction.args);
    }
  }
  const inWorkdir = (dest: string): string => {
    const absolute = path.posix.resolve(workdir, dest);
    const relative = path.posix.relative(workdir, absolute);
    if (relative.startsWith('..'))
      throw new Error(`COPY to ${dest}: outside WORKDIR ${workdir}, not laid out here`);
    return path.join(target, relative);
  };
  for (const instruction of runtime.instructions) {
    if (instruction.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, instruction.args);
    if (instruction.keyword === 'CMD') cmd = JSON.parse(instruction.args) as string[];
    if (instruction.keyword !== 'COPY') continue;
    const copy = parseCopy(instruction);
    const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
    for (const source of copy.sources) {
      const resolved =
        copy.from === null
          ? { kind: 'context' as const, path: path.join(context, source) }
          : fromStage(stages, copy.from, source, context, products);
      const name = path.posix.basename(source);
      const stat = fs.statSync(resolved.path);
      // A folder's contents go into the destination; a file goes to it (or into it, ending in /).
      const dest = inWorkdir(stat.isDirectory() || !intoDir ? copy.dest : `${copy.dest}/${name}`);
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      if (resolved.kind === 'link') {
        fs.symlinkSync(resolved.path, dest, stat.isDirectory() ? 'dir' : 'file');
      } else {
        fs.cpSync(resolved.path, dest, {
          recursive: true,
          filter: (file) =>
            resolved.kind !== 'context' ||
            !ignored(path.relative(context, file).split(path.sep).join('/')),
        });
      }
    }
  }
  return { env, workdir, cmd };
}

/** Where `COPY --from=STAGE SOURCE` reads from, given what the build stage does. */
function fromStage(
  stages: Stage[],
  from: string,
  source: string,
  context: string,
  products: BuildProducts,
): { kind: 'context' | 'link' | 'built'; path: string } {
  const stage = stages.find((s) => s.name === from);
  if (!stage) throw new Error(`COPY --from=${from}: not a stage of this Dockerfile`);
  let workdir = '/';
  const copied = new Map<string, string>();
  const made = new Map<string, BuildProducts[keyof BuildProducts]>();
  for (const instruction of stage.instructions) {
    if (instruction.keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, instruction.args);
    if (instruction.keyword === 'COPY') {
      const copy = parseCopy(instruction);
      if (copy.from !== null) continue;
      const intoDir = copy.dest.endsWith('/') || copy.sources.length > 1;
      for (const s of copy.sources) {
        const dest = path.posix.resolve(
          workdir,
          intoDir && !fs.statSync(path.join(context, s)).isDirectory()
            ? `${copy.dest}/${path.posix.basename(s)}`
            : copy.dest,
        );
        copied.set(dest, s);
      }
    }
    if (instruction.keyword === 'RUN') {
      if (/\bnpm ci\b/.test(instruction.args))
        made.set(path.posix.resolve(workdir, 'node_modules'), products.nodeModules);
      if (/\bnpm run build\b/.test(instruction.args))
        made.set(path.posix.resolve(workdir, 'dist'), products.dist);
    }
  }
  const absolute = path.posix.resolve(workdir, source);
  const product = made.get(absolute);
  if (product) {
    return { kind: absolute.endsWith('/node_modules') ? 'link' : 'built', path: product };
  }
  const fromContext = copied.get(absolute);
  if (fromContext !== undefined) return { kind: 'context', path: path.join(context, fromContext) };
  throw new Error(`COPY --from=${from} ${source}: the ${from} stage has no ${absolute}`);
}
