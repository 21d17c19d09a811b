import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { EmbeddingRow } from './embedding.entity';
import { EmbeddingsRepository } from './embeddings.repository';
import { ItemCatalog } from './item-catalog';
import { SearchController } from './search.controller';
import { SearchService } from './search.service';
import { VectorIndexService } from './vector-index.service';

/** Similarity search, and the serving state it reads: the vector indexes and the item catalog. */
@Module({
  imports: [TypeOrmModule.forFeature([EmbeddingRow])],
  controllers: [SearchController],
  providers: [EmbeddingsRepository, ItemCatalog, VectorIndexService, SearchService],
  exports: [EmbeddingsRepository, ItemCatalog, VectorIndexService, SearchService],
})
export class SearchModule {}
