import { Inject, Injectable, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import {
  HealthCheckResult,
  HealthCheckService,
  HealthIndicatorResult,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { APP_CONFIG, AppConfig } from '../../config';
import { backendInfo, initBackend } from '../../ml/backend';
import { ReadinessCheck, ReadinessRegistry } from './readiness.registry';

@Injectable()
export class HealthService {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly typeorm: TypeOrmHealthIndicator,
    private readonly registry: ReadinessRegistry,
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Database reachable, migrations applied, tfjs backend started, plus every registered check. */
  async ready(): Promise<HealthCheckResult> {
    const checks = [
      () => this.typeorm.pingCheck('database', { connection: this.dataSource, timeout: 3000 }),
      () => this.run('migrations', () => this.migrations()),
      () => this.run('tfjs', () => this.tfjs()),
      ...this.registry.entries().map(
        ([name, check]) =>
          () =>
            this.run(name, check),
      ),
    ];
    try {
      return await this.health.check(checks);
    } catch (error) {
      if (!(error instanceof ServiceUnavailableException)) throw error;
      // Name the failing checks in the message; the per-check details stay in the body.
      const result = error.getResponse() as HealthCheckResult;
      const failing = Object.keys(result.error ?? {}).join(', ');
      throw new ServiceUnavailableException({ ...result, message: `Not ready: ${failing}` });
    }
  }

  private async migrations() {
    const pending = await this.dataSource.showMigrations();
    return { up: !pending, pending };
  }

  private async tfjs() {
    // Started at boot; initBackend is idempotent, so this only waits for (or retries) that start.
    const info = backendInfo() ?? (await initBackend(this.config.tfjsBackend));
    return { up: true, backend: info.name, simd: info.simd, gpu: info.gpu };
  }

  private async run(name: string, check: ReadinessCheck): Promise<HealthIndicatorResult> {
    const session = this.indicators.check(name);
    try {
      const { up, ...details } = await check();
      return up ? session.up(details) : session.down(details);
    } catch (error) {
      return session.down({ message: (error as Error).message });
    }
  }
}
