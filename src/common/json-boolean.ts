import { Transform } from 'class-transformer';

/**
 * A boolean field of a JSON body: only `true` and `false` themselves. The global ValidationPipe converts
 * implicitly (`enableImplicitConversion`), which turns any non-empty string into `true` ("false" and "no"
 * included) before @IsBoolean looks; this hands @IsBoolean the value as it was sent, so it refuses them.
 */
export const JsonBoolean = (): PropertyDecorator =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => obj[key]);
