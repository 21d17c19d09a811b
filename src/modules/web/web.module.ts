import { Module } from '@nestjs/common';
import { MetaController } from './meta.controller';
import { WebController } from './web.controller';
import { WhoAmIController } from './whoami.controller';

/**
 * The web console at `/` and the endpoints it needs that no feature offers: GET /v1/auth/me (the key's
 * role) and GET /v1/meta (the names and figure rules, so the console holds no copy of them).
 */
@Module({ controllers: [WebController, WhoAmIController, MetaController] })
export class WebModule {}
