import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { ApiKey } from './api-key.entity';

@Injectable()
export class ApiKeysRepository {
  constructor(@InjectRepository(ApiKey) private readonly repo: Repository<ApiKey>) {}

  findActiveByHash(keyHash: string): Promise<ApiKey | null> {
    return this.repo.findOne({ where: { keyHash, revokedAt: IsNull() } });
  }

  findByHash(keyHash: string): Promise<ApiKey | null> {
    return this.repo.findOne({ where: { keyHash } });
  }

  findActiveById(id: string): Promise<ApiKey | null> {
    return this.repo.findOne({ where: { id, revokedAt: IsNull() } });
  }

  listActive(): Promise<ApiKey[]> {
    return this.repo.find({ where: { revokedAt: IsNull() }, order: { createdAt: 'ASC' } });
  }

  insert(key: ApiKey): Promise<ApiKey> {
    return this.repo.save(key);
  }

  /**
   * Inserts the key only when the table has no row at all (revoked keys count), atomically: replicas
   * starting together on one PostgreSQL database insert one key between them.
   */
  insertIfNone(key: ApiKey): Promise<boolean> {
    return this.repo.manager.transaction(async (manager) => {
      // Blocks other inserts (not reads) until this transaction ends; PGlite runs it as it is.
      await manager.query('LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE');
      if (await manager.getRepository(ApiKey).exists()) return false;
      await manager.getRepository(ApiKey).insert(key);
      return true;
    });
  }

  async revoke(id: string): Promise<boolean> {
    const result = await this.repo.update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
    return (result.affected ?? 0) > 0;
  }
}
