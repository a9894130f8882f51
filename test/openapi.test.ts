/**
 * The API description: served at /api/v1/openapi.json, a valid OpenAPI 3.1 document that lists
 * every route of the app with a summary and the access it requires; the Swagger UI at /api/docs.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeAccess } from '../src/server/access.js';
import type { GsApp } from '../src/server/app.js';
import { appRecordingRoutes, createTestPlatform, type RegisteredRoute, type TestPlatform } from './helpers/platform.js';

interface OpenApiOperation {
  readonly summary?: string;
  readonly description?: string;
  readonly security?: readonly Readonly<Record<string, readonly string[]>>[];
}
interface OpenApiDoc {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string };
  readonly paths: Readonly<Record<string, Readonly<Record<string, OpenApiOperation>>>>;
  readonly components?: { readonly securitySchemes?: Readonly<Record<string, unknown>> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let t: TestPlatform;
let app: GsApp;
/** The API routes of the app (under /api/v1). */
let routes: RegisteredRoute[] = [];

/** `/agencies/:id` → `/agencies/{id}`, as OpenAPI writes path parameters. */
const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

async function fetchDoc(): Promise<OpenApiDoc> {
  const r = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
  expect(r.statusCode).toBe(200);
  return r.json<OpenApiDoc>();
}

/** Every operation in the document, as [METHOD, path, operation]. */
function operations(doc: OpenApiDoc): [string, string, OpenApiOperation][] {
  const out: [string, string, OpenApiOperation][] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) if (HTTP_METHODS.includes(method)) out.push([method.toUpperCase(), path, op]);
  }
  return out;
}

beforeAll(async () => {
  t = await createTestPlatform();
  const recorded = await appRecordingRoutes(t);
  app = recorded.app;
  routes = recorded.routes.filter((r) => r.url.startsWith('/api/v1'));
});

afterAll(async () => {
  await app?.close();
  await t?.close();
});

describe('GET /api/v1/openapi.json', () => {
  it('is served without credentials as a valid OpenAPI 3.1 document', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    const doc = r.json<OpenApiDoc & Record<string, unknown>>();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBe('govshare API');
    const result = await new Validator().validate(doc);
    expect(result.valid, JSON.stringify(result.errors)).toBe(true);
  });

  it('is checked by a validator that does reject a broken document', async () => {
    const doc = (await fetchDoc()) as OpenApiDoc & Record<string, unknown>;
    const { info: _info, ...withoutInfo } = doc;
    const result = await new Validator().validate({ ...withoutInfo, paths: { ...doc.paths, 'no-leading-slash': {} } });
    expect(result.valid).toBe(false);
  });

  it('lists every /api/v1 route of the app, and nothing else', async () => {
    const doc = await fetchDoc();
    const visible = routes.filter((r) => !r.hidden);
    expect(visible.length).toBeGreaterThan(20);
    const documented = operations(doc).map(([m, p]) => `${m} ${p}`);
    const registered = visible.map((r) => `${r.method} ${openApiPath(r.url)}`);
    expect(registered.filter((k) => !documented.includes(k)), 'routes missing from the document').toEqual([]);
    expect(documented.filter((k) => !registered.includes(k)), 'documented operations with no route').toEqual([]);
    // The only hidden /api/v1 route is the document itself, and it is public.
    expect(routes.filter((r) => r.hidden).map((r) => `${r.method} ${r.url}`)).toEqual(['GET /api/v1/openapi.json']);
  });

  it('gives every operation a summary and states its access once in the description', async () => {
    const doc = await fetchDoc();
    const schemes = Object.keys(doc.components?.securitySchemes ?? {});
    expect(schemes.sort()).toEqual(['bearer', 'session']);
    const problems: string[] = [];
    for (const [method, path, op] of operations(doc)) {
      const key = `${method} ${path}`;
      const route = routes.find((r) => r.method === method && openApiPath(r.url) === path);
      if (!route?.access) {
        problems.push(`${key}: no registered route with an access declaration`);
        continue;
      }
      if (!op.summary?.trim()) problems.push(`${key}: no summary`);
      const note = describeAccess(route.access);
      const mentions = (op.description ?? '').split(note).length - 1;
      if (mentions !== 1) problems.push(`${key}: the description states "${note}" ${mentions} times: ${JSON.stringify(op.description)}`);
      for (const requirement of op.security ?? []) {
        for (const name of Object.keys(requirement)) if (!schemes.includes(name)) problems.push(`${key}: unknown security scheme ${name}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('GET /api/docs', () => {
  it('serves the Swagger UI as HTML', async () => {
    const r = await app.inject({ method: 'GET', url: '/api/docs' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toContain('<title>Swagger UI</title>');
    const init = await app.inject({ method: 'GET', url: '/api/docs/static/swagger-initializer.js' });
    expect(init.statusCode).toBe(200);
    expect(init.body).toContain('SwaggerUIBundle');
  });
});
