import { createTestApp, TestApp } from '../utils/create-test-app';

interface Schema {
  $ref?: string;
  type?: string;
  format?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: boolean | Schema;
  allOf?: Schema[];
  description?: string;
}
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Schema }> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

/**
 * /docs shows every response: each route documents its 2xx answer with a schema, and a JSON answer's
 * schema is an object with named properties (not `{}`), so a client needs no guessing of shapes.
 */
describe('OpenAPI: every route documents its response', () => {
  let t: TestApp;
  let doc: Document;
  beforeAll(async () => {
    t = await createTestApp();
    doc = (await t.http.get('/docs-json').expect(200)).body as Document;
  });
  afterAll(() => t?.close());

  const resolve = (schema: Schema): Schema => {
    if (!schema.$ref) return schema;
    const name = schema.$ref.replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    if (!target) throw new Error(`${schema.$ref} is not in components.schemas`);
    return resolve(target);
  };

  /** Properties of an object schema, through $ref and allOf (extended classes). */
  const propertiesOf = (schema: Schema): Record<string, Schema> => {
    const resolved = resolve(schema);
    return Object.assign(
      {},
      ...(resolved.allOf ?? []).map(propertiesOf),
      resolved.properties ?? {},
    ) as Record<string, Schema>;
  };

  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item).map(([method, op]) => ({
        route: `${method.toUpperCase()} ${path}`,
        op,
      })),
    );

  it('gives each route a 2xx response with a schema; JSON ones are objects with properties', () => {
    const problems: string[] = [];
    for (const { route, op } of operations()) {
      const success = Object.entries(op.responses).filter(([status]) => /^2\d\d$/.test(status));
      if (success.length === 0) {
        problems.push(`${route}: no 2xx response`);
        continue;
      }
      for (const [status, response] of success) {
        if (status === '204') continue; // no body
        const content = response.content ?? {};
        if (Object.keys(content).length === 0) problems.push(`${route} ${status}: no content`);
        for (const [type, { schema }] of Object.entries(content)) {
          if (!schema) {
            problems.push(`${route} ${status} ${type}: no schema`);
          } else if (type === 'application/json') {
            const properties = propertiesOf(schema);
            if (Object.keys(properties).length === 0)
              problems.push(`${route} ${status}: a JSON schema without properties`);
          } else if (resolve(schema).type !== 'string') {
            problems.push(`${route} ${status} ${type}: expected a string (the body as it is)`);
          }
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('answers every list in one envelope: { items, total, page, limit }', () => {
    const lists = operations().filter(({ op }) => {
      const schema = op.responses['200']?.content?.['application/json']?.schema;
      return schema && 'items' in propertiesOf(schema);
    });
    expect(lists.map(({ route }) => route).sort()).toEqual(
      [
        'GET /v1/api-keys',
        'GET /v1/gallery/images',
        'GET /v1/models',
        'GET /v1/probes',
        'GET /v1/training-jobs',
      ].sort(),
    );
    for (const { op } of lists) {
      const properties = propertiesOf(op.responses['200'].content!['application/json'].schema!);
      expect(Object.keys(properties).sort()).toEqual(['items', 'limit', 'page', 'total']);
      expect(properties.items.type).toBe('array');
      expect(Object.keys(propertiesOf(properties.items.items!)).length).toBeGreaterThan(0);
    }
    // No route answers a bare array.
    for (const { route, op } of operations()) {
      const schema = op.responses['200']?.content?.['application/json']?.schema;
      if (schema)
        expect({ route, type: resolve(schema).type }).not.toEqual({ route, type: 'array' });
    }
  });

  it('states the unit of rates: fractions in [0, 1]', () => {
    const schemas = doc.components.schemas;
    expect(schemas.EstimateDto.properties!.value.description).toContain('fraction in [0, 1]');
    expect(schemas.ChanceDto.properties!.recallAt1.description).toContain('fraction in [0, 1]');
    expect(schemas.ProbeHeadlineDto.properties!.cleanRecallAt1.description).toContain(
      'fraction in [0, 1]',
    );
    expect(
      propertiesOf({ $ref: '#/components/schemas/ProbeViewDto' }).report.description,
    ).toContain('fraction in [0, 1]');
    expect(
      propertiesOf({ $ref: '#/components/schemas/TrainingJobViewDto' }).metrics.description,
    ).toContain('fraction in [0, 1]');
  });
});
