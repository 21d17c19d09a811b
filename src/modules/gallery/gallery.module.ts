import { Module } from '@nestjs/common';
import { MulterModule } from '@nestjs/platform-express';
import { TypeOrmModule } from '@nestjs/typeorm';
import { APP_CONFIG, AppConfig } from '../../config';
import { SearchModule } from '../search/search.module';
import { GalleryItem } from './gallery-item.entity';
import { GalleryController } from './gallery.controller';
import { GalleryRepository } from './gallery.repository';
import { GalleryService } from './gallery.service';

@Module({
  imports: [
    TypeOrmModule.forFeature([GalleryItem]),
    SearchModule,
    MulterModule.registerAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        limits: { fileSize: config.uploads.maxFileBytes, files: config.uploads.maxFiles },
      }),
    }),
  ],
  controllers: [GalleryController],
  providers: [GalleryRepository, GalleryService],
  exports: [GalleryRepository, GalleryService],
})
export class GalleryModule {}
