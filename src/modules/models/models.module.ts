import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { GalleryModule } from '../gallery/gallery.module';
import { SearchModule } from '../search/search.module';
import { DeployService } from './deploy.service';
import { ModelVersion } from './model.entity';
import { ModelRegistryService } from './model-registry.service';
import { ModelsController } from './models.controller';
import { ModelsRepository } from './models.repository';

/** Model versions: registry, deployment, and bringing the serving model up at start-up. */
@Module({
  imports: [TypeOrmModule.forFeature([ModelVersion]), SearchModule, GalleryModule],
  controllers: [ModelsController],
  providers: [ModelsRepository, ModelRegistryService, DeployService],
  exports: [ModelRegistryService, DeployService],
})
export class ModelsModule {}
