import { findHiddenField } from './validation';

describe('findHiddenField', () => {
  it('names the first field validation would drop silently, by its path', () => {
    expect(findHiddenField(JSON.parse('{"a":1,"__proto__":{}}'))).toBe('__proto__');
    expect(findHiddenField({ a: { b: [{ ok: 1 }, { constructor: 1 }] } })).toBe(
      'a.b[1].constructor',
    );
    expect(findHiddenField({ hasOwnProperty: 'x' })).toBe('hasOwnProperty');
    expect(findHiddenField({ prototype: 1 })).toBe('prototype');
  });

  it('passes ordinary bodies, names that only contain those words, and non-objects', () => {
    expect(findHiddenField({ name: 'x', my_constructor: 1, list: [1, 'a'] })).toBeUndefined();
    expect(findHiddenField([{ protoType: 1 }])).toBeUndefined();
    expect(findHiddenField('text')).toBeUndefined();
    expect(findHiddenField(null)).toBeUndefined();
    expect(findHiddenField(Buffer.from('constructor'))).toBeUndefined();
  });

  it('walks a deeply nested body without overflowing the stack', () => {
    let body: unknown = { constructor: 1 };
    for (let i = 0; i < 100_000; i++) body = [body];
    expect(findHiddenField(body)).toMatch(/^(\[0\]){100000}\.constructor$/);
  });
});
