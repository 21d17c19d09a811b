import { ItemCatalog } from './item-catalog';

describe('ItemCatalog.shareKeys', () => {
  it('keeps every entry, retrievable by id, whether named or not', () => {
    const catalog = new ItemCatalog();
    catalog.replaceAll([
      ['a', { label: 'x', metadata: { n: 1 } }],
      ['b', { label: null, metadata: {} }],
      ['c', { label: 'y', metadata: {} }],
    ]);
    // Equal strings built elsewhere (as the index's are), one id the catalog lacks.
    const ids = ['a', 'c', 'zz'].map((id) => `${id}`.split('').join(''));
    catalog.shareKeys(ids);
    expect(catalog.size).toBe(3);
    expect(catalog.get('a')).toEqual({ label: 'x', metadata: { n: 1 } });
    expect(catalog.get('b')).toEqual({ label: null, metadata: {} });
    expect(catalog.get('c')).toEqual({ label: 'y', metadata: {} });
    expect(catalog.get('zz')).toBeUndefined();
    catalog.set('d', { label: 'z', metadata: {} });
    catalog.delete('a');
    expect(catalog.size).toBe(3);
    expect(catalog.get('d')).toEqual({ label: 'z', metadata: {} });
    expect(catalog.get('a')).toBeUndefined();
  });
});

describe('ItemCatalog entries without metadata', () => {
  it('answer the same label and an empty metadata object, however they were given', () => {
    const catalog = new ItemCatalog();
    catalog.replaceAll([
      ['a', { label: 'seven', metadata: {} }],
      ['b', { label: 'seven', metadata: {} }],
      ['c', { label: null, metadata: {} }],
      ['d', { label: 'seven', metadata: { source: 'scan' } }],
    ]);
    catalog.set('e', { label: 'eight', metadata: {} });
    expect(catalog.get('a')).toEqual({ label: 'seven', metadata: {} });
    expect(catalog.get('b')).toEqual({ label: 'seven', metadata: {} });
    expect(catalog.get('c')).toEqual({ label: null, metadata: {} });
    expect(catalog.get('d')).toEqual({ label: 'seven', metadata: { source: 'scan' } });
    expect(catalog.get('e')).toEqual({ label: 'eight', metadata: {} });
    // One shared, frozen entry per label: nothing can change another item's answer through it.
    expect(catalog.get('a')).toBe(catalog.get('b'));
    expect(Object.isFrozen(catalog.get('a'))).toBe(true);
    expect(Object.isFrozen(catalog.get('a')?.metadata)).toBe(true);
    expect(JSON.stringify(catalog.get('a'))).toBe('{"label":"seven","metadata":{}}');
  });
});
