import { ValidationPipe } from '@nestjs/common';

/** The global pipe: unknown fields are rejected, strings are converted to the declared types. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    transformOptions: { enableImplicitConversion: true },
  });
}
