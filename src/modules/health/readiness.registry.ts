import { Injectable } from '@nestjs/common';

/** What a readiness check reports: `up` plus any details worth showing on /health/ready. */
export interface ReadinessResult {
  up: boolean;
  [detail: string]: unknown;
}

export type ReadinessCheck = () => Promise<ReadinessResult> | ReadinessResult;

/**
 * Features add their own readiness checks (the active model, the vector index, ...):
 *
 *   constructor(readiness: ReadinessRegistry) { readiness.register('index', () => this.indexHealth()); }
 *
 * A check that throws counts as down with the error's message.
 */
@Injectable()
export class ReadinessRegistry {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    if (this.checks.has(name)) throw new Error(`readiness check '${name}' is registered twice`);
    this.checks.set(name, check);
  }

  entries(): [string, ReadinessCheck][] {
    return [...this.checks.entries()];
  }
}
