import { createHash } from 'crypto';
import { existsSync, readdirSync, readFileSync } from 'fs';
import * as path from 'path';

/** One file of the console, held in memory (the whole console is a few dozen kB). */
export interface ConsoleAsset {
  name: string;
  body: Buffer;
  contentType: string;
  etag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Only plain names: no path separators, no dot files, so a request can never leave the folder. */
export const ASSET_NAME_PATTERN = /^[a-z0-9][a-z0-9-]*\.(?:js|css|svg)$/;

/**
 * The console's own policy: everything from this origin, plus blob: and data: images (thumbnails are
 * fetched with the API key and shown from blob URLs, since an <img src> cannot send a header).
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' blob: data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Where the console's files are: beside this file when running the TypeScript sources, or in the
 * source tree when running the compiled dist/ (tsc copies no static files).
 */
export function findPublicDir(): string {
  const candidates = [
    path.join(__dirname, 'public'),
    path.join(__dirname, '..', '..', '..', '..', 'src', 'modules', 'web', 'public'),
  ];
  const found = candidates.find((dir) => existsSync(path.join(dir, 'index.html')));
  if (!found) throw new Error(`web console files not found; looked in ${candidates.join(', ')}`);
  return found;
}

/** Reads index.html and every servable asset of the folder. */
export function loadConsoleAssets(dir: string): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  const names = readdirSync(dir).filter((name) => ASSET_NAME_PATTERN.test(name));
  for (const name of ['index.html', ...names]) {
    const body = readFileSync(path.join(dir, name));
    assets.set(name, {
      name,
      body,
      contentType: CONTENT_TYPES[path.extname(name)] ?? 'application/octet-stream',
      etag: `"${createHash('sha256').update(body).digest('hex').slice(0, 32)}"`,
    });
  }
  return assets;
}
