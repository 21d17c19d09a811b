import * as fs from 'fs';
import * as path from 'path';

/**
 * Where a `rir serve` on the embedded database listens, in DATA_DIR/server.json: only that process
 * can open the database, so `rir keys create` finds the server here and goes through its HTTP API.
 */
export const SERVER_ADDRESS_FILE = 'server.json';

export interface ServerAddress {
  pid: number;
  url: string;
}

/** A URL this machine can connect to for a server listening on `host` (0.0.0.0 is not one). */
export function localUrl(host: string, port: number): string {
  const name =
    host === '0.0.0.0' || host === ''
      ? '127.0.0.1'
      : host === '::'
        ? '[::1]'
        : host.includes(':')
          ? `[${host}]`
          : host;
  return `http://${name}:${port}`;
}

export function writeServerAddress(dataDir: string, address: ServerAddress): void {
  const file = path.join(dataDir, SERVER_ADDRESS_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, JSON.stringify(address));
  fs.renameSync(temporary, file);
}

/** The recorded address, or null when there is none (or it is unreadable). */
export function readServerAddress(dataDir: string): ServerAddress | null {
  try {
    const parsed = JSON.parse(
      fs.readFileSync(path.join(dataDir, SERVER_ADDRESS_FILE), 'utf8'),
    ) as Partial<ServerAddress>;
    return typeof parsed.pid === 'number' && typeof parsed.url === 'string'
      ? { pid: parsed.pid, url: parsed.url }
      : null;
  } catch {
    return null;
  }
}

/** Removes the file if this process wrote it. */
export function removeServerAddress(dataDir: string): void {
  if (readServerAddress(dataDir)?.pid !== process.pid) return;
  fs.rmSync(path.join(dataDir, SERVER_ADDRESS_FILE), { force: true });
}
