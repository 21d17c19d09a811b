import { Module } from '@nestjs/common';
import { JobsModule } from '../jobs';
import { ModelsModule } from '../models/models.module';
import { GalleryDataset } from './gallery-dataset';
import { TrainingController } from './training.controller';
import { TrainingService } from './training.service';

/** POST /v1/training-jobs and the 'training' job handler (runs in worker processes). */
@Module({
  imports: [JobsModule, ModelsModule],
  controllers: [TrainingController],
  providers: [TrainingService, GalleryDataset],
})
export class TrainingModule {}
