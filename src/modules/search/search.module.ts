import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config';
import { EmbeddingRow } from './embedding.entity';
import { EmbeddingsRepository } from './embeddings.repository';
import { ItemCatalog } from './item-catalog';
import { SearchController } from './search.controller';
import { SearchService } from './search.service';
import { VectorIndexService } from './vector-index.service';

/** Similarity search, and the serving state it reads: the vector indexes and the item catalog. */
@Module({
  imports: [
    TypeOrmModule.forFeature([EmbeddingRow]),
    MulterModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        limits: { fileSize: config.uploads.maxFileBytes, files: 1 },
      }),
    }),
  ],
  controllers: [SearchController],
  providers: [EmbeddingsRepository, ItemCatalog, VectorIndexService, SearchService],
  exports: [EmbeddingsRepository, ItemCatalog, VectorIndexService, SearchService],
})
export class SearchModule {}
