import { Controller, Get, Headers, NotFoundException, Param, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply } from 'fastify';
import { Public } from '../../common/auth.decorators';
import {
  ASSET_NAME_PATTERN,
  CONSOLE_CSP,
  ConsoleAsset,
  findPublicDir,
  loadConsoleAssets,
} from './console-assets';

/**
 * Serves the web console: `/` is the page, `/console/<file>` its scripts and styles. Public (the
 * console asks for the key itself) and not rate limited, so a limited client still sees the
 * console explain the 429 its API calls get.
 */
@ApiExcludeController()
@Public()
@SkipThrottle()
@Controller()
export class WebController {
  private readonly assets: Map<string, ConsoleAsset> = loadConsoleAssets(findPublicDir());

  @Get()
  index(@Headers('if-none-match') ifNoneMatch: string | undefined, @Res() reply: FastifyReply) {
    this.send(this.assets.get('index.html')!, ifNoneMatch, reply);
  }

  @Get('console/:file')
  asset(
    @Param('file') file: string,
    @Headers('if-none-match') ifNoneMatch: string | undefined,
    @Res() reply: FastifyReply,
  ) {
    const asset = ASSET_NAME_PATTERN.test(file) ? this.assets.get(file) : undefined;
    if (!asset) throw new NotFoundException(`No console file ${file}`);
    this.send(asset, ifNoneMatch, reply);
  }

  private send(asset: ConsoleAsset, ifNoneMatch: string | undefined, reply: FastifyReply): void {
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('cache-control', 'no-cache');
    reply.header('etag', asset.etag);
    if (ifNoneMatch === asset.etag) {
      void reply.status(304).send();
      return;
    }
    reply.header('content-type', asset.contentType);
    void reply.send(asset.body);
  }
}
