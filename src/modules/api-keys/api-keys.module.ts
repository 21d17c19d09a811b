import { Inject, Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config';
import { ApiKey } from './api-key.entity';
import { ApiKeysController } from './api-keys.controller';
import { ApiKeysRepository } from './api-keys.repository';
import { ApiKeysService } from './api-keys.service';
import { initialAdminKeyBanner, writeInitialAdminKeyFile } from './initial-admin-key';

@Module({
  imports: [TypeOrmModule.forFeature([ApiKey])],
  controllers: [ApiKeysController],
  providers: [ApiKeysRepository, ApiKeysService],
  exports: [ApiKeysService],
})
export class ApiKeysModule implements OnApplicationBootstrap {
  private readonly logger = new Logger(ApiKeysModule.name);

  constructor(
    private readonly apiKeys: ApiKeysService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.adminApiKey) {
      await this.apiKeys.registerBootstrapAdminKey(this.config.adminApiKey);
    } else if (this.config.role !== 'worker') {
      // A process that serves HTTP: a fresh install must not start without a way in.
      await this.createInitialAdminKey();
    }
  }

  /** The first start's admin key, printed once on stderr (never in the log) and kept 0600. */
  private async createInitialAdminKey(): Promise<void> {
    const created = await this.apiKeys.createInitialAdminKey();
    if (!created) return;
    let file: string | null = null;
    try {
      file = writeInitialAdminKeyFile(this.config.dataDir, created.key);
    } catch (error) {
      this.logger.warn(`could not save the initial admin key: ${(error as Error).message}`);
    }
    process.stderr.write(initialAdminKeyBanner(created, file));
    this.logger.log(
      `Created the initial admin key (id ${created.id}); it was printed on stderr` +
        (file ? ` and saved in ${file}` : ''),
    );
  }
}
