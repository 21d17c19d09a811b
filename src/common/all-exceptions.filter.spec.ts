import {
  BadRequestException,
  NotFoundException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { toErrorBody } from './all-exceptions.filter';

describe('toErrorBody', () => {
  it('keeps the status and message of HTTP exceptions', () => {
    expect(toErrorBody(new NotFoundException('Image 7 not found'))).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Image 7 not found',
    });
  });

  it('joins validation messages and keeps the list', () => {
    expect(
      toErrorBody(new BadRequestException(['name must be a string', 'role must be one of x'])),
    ).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: 'name must be a string; role must be one of x',
      errors: ['name must be a string', 'role must be one of x'],
    });
  });

  it('keeps extra fields of an object response', () => {
    const body = toErrorBody(
      new ServiceUnavailableException({ message: 'Not ready: index', details: { index: {} } }),
    );
    expect(body).toMatchObject({
      statusCode: 503,
      message: 'Not ready: index',
      details: { index: {} },
    });
  });

  it('hides unexpected errors behind a generic 500', () => {
    const body = toErrorBody(new TypeError("Cannot read properties of undefined (reading 'x')"));
    expect(body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message: 'Internal server error',
    });
    expect(toErrorBody('a thrown string')).toEqual(body);
    expect(toErrorBody(Object.assign(new Error('db password in here'), { status: 500 }))).toEqual(
      body,
    );
  });

  it('passes through client errors raised by middleware (body-parser style)', () => {
    const tooLarge = Object.assign(new Error('request entity too large'), {
      status: 413,
      expose: true,
    });
    expect(toErrorBody(tooLarge)).toEqual({
      statusCode: 413,
      error: 'Payload Too Large',
      message: 'request entity too large',
    });
  });
});
