import { Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { GalleryModule } from '../gallery/gallery.module';
import { JobsModule } from '../jobs';
import { ModelsModule } from '../models/models.module';
import { ProbeExampleRow } from './probe-example.entity';
import { ProbeJobHandler } from './probe-job.handler';
import { ProbesController } from './probes.controller';
import { ProbesRepository } from './probes.repository';
import { ProbesService } from './probes.service';

/** Security probes: the attack suite against a model version over HTTP, run as 'probe' jobs. */
@Module({
  imports: [TypeOrmModule.forFeature([ProbeExampleRow]), JobsModule, ModelsModule, GalleryModule],
  controllers: [ProbesController],
  providers: [ProbesRepository, ProbeJobHandler, ProbesService],
})
export class ProbesModule {}
