import 'reflect-metadata';
import { ArgumentMetadata, BadRequestException, ValidationPipe } from '@nestjs/common';
import { createValidationPipe, VALIDATION_OPTIONS } from '../../../common/validation';
import { SearchUploadDto, SimilarQueryDto } from './search-query.dto';

/** The app's pipe (with the fast path) against plain class-validator, on the same inputs. */
async function outcome(
  pipe: ValidationPipe,
  value: unknown,
  metatype: ArgumentMetadata['metatype'],
) {
  try {
    const result = (await pipe.transform(value, { type: 'query', metatype })) as object;
    return { ok: true, type: result.constructor.name, value: { ...result } };
  } catch (error) {
    return {
      ok: false,
      status: (error as BadRequestException).getStatus(),
      body: (error as BadRequestException).getResponse(),
    };
  }
}

const INPUTS: Record<string, unknown>[] = [
  {},
  { k: '10' },
  { k: '1' },
  { k: '1000' },
  { k: '1001' },
  { k: '0' },
  { k: '010' },
  { k: ' 10' },
  { k: '1e1' },
  { k: '2.5' },
  { k: 'abc' },
  { k: '' },
  { k: ['1', '2'] },
  { k: '10', ef: '64' },
  { k: '10', ef: '10000' },
  { k: '10', ef: '10001' },
  { ef: '5', k: '10' },
  { minScore: '0.5' },
  { minScore: '-1' },
  { minScore: '1' },
  { minScore: '1.5' },
  { minScore: '-0' },
  { minScore: '.5' },
  { minScore: 'x' },
  { label: 'seven' },
  { label: '' },
  { label: 'x'.repeat(200) },
  { label: 'x'.repeat(201) },
  { label: ['a', 'b'] },
  { label: { nested: 'x' } },
  { k: '10', other: '1' },
  { k: '10', label: '3', minScore: '0.25', ef: '128' },
];

describe('search options: the validation fast path', () => {
  const app = createValidationPipe();
  const reference = new ValidationPipe(VALIDATION_OPTIONS);

  it.each(INPUTS.map((input) => [JSON.stringify(input), input]))(
    'answers %s exactly as class-validator does',
    async (_name, input) => {
      for (const dto of [SimilarQueryDto, SearchUploadDto]) {
        expect(await outcome(app, input, dto)).toEqual(await outcome(reference, input, dto));
      }
    },
  );

  it('converts the plain case without class-validator, to an instance of the DTO', async () => {
    const result = await app.transform(
      { k: '7', label: 'a' },
      { type: 'query', metatype: SimilarQueryDto },
    );
    expect(result).toBeInstanceOf(SimilarQueryDto);
    expect(result).toMatchObject({ k: 7, label: 'a' });
  });
});
