import { Transform } from 'class-transformer';
import { parseBudget } from '../ml/attacks/definitions';

/**
 * A budget field of a request body (an eps, a PGD step size): a JSON number, or a string such as "8/255"
 * read by the ML core's parseBudget, the one reader of budgets. A string it cannot read is left as it
 * is, for the field's number check to refuse.
 */
export const BudgetValue = (): PropertyDecorator =>
  Transform(({ obj, key }: { obj: Record<string, unknown>; key: string }) => {
    const raw = obj[key];
    if (typeof raw !== 'string') return raw;
    try {
      return parseBudget(raw, key);
    } catch {
      return raw;
    }
  });
