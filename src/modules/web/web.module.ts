import { Module } from '@nestjs/common';
import { WebController } from './web.controller';
import { WhoAmIController } from './whoami.controller';

/** The web console at `/` and the one endpoint it needs that no feature offers: GET /v1/auth/me. */
@Module({ controllers: [WebController, WhoAmIController] })
export class WebModule {}
