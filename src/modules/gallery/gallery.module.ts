import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { SearchModule } from '../search/search.module';
import { GalleryItem } from './gallery-item.entity';
import { GalleryController } from './gallery.controller';
import { GalleryRepository } from './gallery.repository';
import { GalleryService } from './gallery.service';

@Module({
  imports: [TypeOrmModule.forFeature([GalleryItem]), SearchModule],
  controllers: [GalleryController],
  providers: [GalleryRepository, GalleryService],
  exports: [GalleryRepository, GalleryService],
})
export class GalleryModule {}
