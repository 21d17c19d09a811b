import { EventEmitter } from 'events';
import type { PGlite } from '@electric-sql/pglite';
import { loadPGlite } from './load-pglite';

type Callback = (error: Error | null, result?: unknown) => void;

interface PgLikeResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: unknown[];
}

const BEGIN = /^\s*(START\s+TRANSACTION|BEGIN)\b/i;
const END = /^\s*(COMMIT|END|ROLLBACK)\s*(;|$)/i;

/**
 * PGlite is loaded by Node's own loader (see load-pglite), so under Jest its `instanceof Date`
 * and `instanceof Uint8Array` checks see another realm's classes: pass values it recognises.
 */
function portable(value: unknown): unknown {
  if (Object.prototype.toString.call(value) === '[object Date]')
    return (value as Date).toISOString();
  if (ArrayBuffer.isView(value) && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

/**
 * A node-postgres-shaped pool over one PGlite instance, for TypeORM's postgres driver. Unlike
 * typeorm-pglite (a process-wide singleton) each data source gets its own instance, so tests can
 * open several data directories in one process. PGlite has a single session: transactions are
 * serialised across clients (a BEGIN waits for the open transaction to end); plain queries are
 * not, so a query made outside a transaction while holding one does not deadlock.
 */
export function createPGliteDriver(dataDir: string | undefined) {
  let instance: Promise<PGlite> | null = null;
  let transactionOwner: object | null = null;
  let transactionDone: Promise<void> = Promise.resolve();
  let finishTransaction: () => void = () => undefined;

  const db = (): Promise<PGlite> => (instance ??= loadPGlite().PGlite.create(dataDir));

  async function run(owner: object, sql: string, params?: unknown[]): Promise<PgLikeResult> {
    if (BEGIN.test(sql)) {
      while (transactionOwner && transactionOwner !== owner) await transactionDone;
      transactionOwner = owner;
      transactionDone = new Promise((resolve) => (finishTransaction = resolve));
    }
    const pglite = await db();
    try {
      const result =
        params && params.length > 0
          ? await pglite.query(sql, params.map(portable))
          : // exec accepts several statements (migrations); TypeORM wants the last result.
            ((await pglite.exec(sql)).at(-1) ?? { rows: [], fields: [] });
      return {
        rows: result.rows,
        rowCount: result.affectedRows ?? result.rows.length,
        command: /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? '',
        fields: result.fields,
      };
    } finally {
      if (END.test(sql) && transactionOwner === owner) endTransaction();
    }
  }

  function endTransaction(): void {
    transactionOwner = null;
    finishTransaction();
  }

  class PGliteClient extends EventEmitter {
    query(sql: string, params?: unknown[] | Callback, callback?: Callback): Promise<PgLikeResult> {
      const cb = typeof params === 'function' ? params : callback;
      const values = typeof params === 'function' ? undefined : params;
      const promise = run(this, sql, values);
      if (cb)
        promise.then(
          (r) => cb(null, r),
          (e: Error) => cb(e),
        );
      return promise;
    }

    /** Called when TypeORM releases the client; never leave its transaction open. */
    async release(): Promise<void> {
      if (transactionOwner === this) {
        await run(this, 'ROLLBACK').catch(() => undefined);
        if (transactionOwner === this) endTransaction();
      }
    }
  }

  class PGlitePool extends EventEmitter {
    connect(callback: (error: Error | null, client?: PGliteClient, done?: () => void) => void) {
      db().then(
        () => {
          const client = new PGliteClient();
          callback(null, client, () => void client.release());
        },
        (error: Error) => callback(error),
      );
    }

    query(sql: string, params?: unknown[] | Callback, callback?: Callback) {
      return new PGliteClient().query(sql, params, callback);
    }

    end(callback?: (error?: Error | null) => void): void {
      const closing = instance ? instance.then((pglite) => pglite.close()) : Promise.resolve();
      instance = null;
      closing.then(
        () => callback?.(null),
        (error: Error) => callback?.(error),
      );
    }
  }

  return { Pool: PGlitePool };
}
