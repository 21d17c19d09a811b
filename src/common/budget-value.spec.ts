import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { IsNumber, IsOptional, Max, Min, validateSync } from 'class-validator';
import { BudgetValue } from './budget-value';

class Body {
  @IsOptional()
  @BudgetValue()
  @IsNumber({}, { message: 'eps must be a number or a fraction such as 8/255' })
  @Min(0)
  @Max(1)
  eps?: number;
}

// As the app's validation pipe reads bodies (createValidationPipe).
const read = (plain: object) =>
  plainToInstance(Body, plain, { enableImplicitConversion: true }) as Body;

describe('BudgetValue', () => {
  it('reads numbers and fractions with the ML core parseBudget', () => {
    expect(read({ eps: 0.25 }).eps).toBe(0.25);
    expect(read({ eps: '8/255' }).eps).toBeCloseTo(8 / 255, 12);
    expect(read({ eps: ' 0.03 ' }).eps).toBe(0.03);
    expect(read({}).eps).toBeUndefined();
  });

  it('leaves what it cannot read for the number check to refuse', () => {
    const body = read({ eps: '8/zz' });
    expect(body.eps).toBe('8/zz');
    expect(validateSync(body).flatMap((e) => Object.values(e.constraints ?? {}))).toContain(
      'eps must be a number or a fraction such as 8/255',
    );
    expect(validateSync(read({ eps: '2/255' }))).toEqual([]);
  });
});
