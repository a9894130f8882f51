import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RouteOptions } from 'fastify';
import { GsError } from '../lib/errors.js';
import { accountRoutes } from '../modules/accounts/routes.js';
import { agencyRoutes } from '../modules/agencies/routes.js';
import { attachmentRoutes } from '../modules/attachments/routes.js';
import { auditRoutes } from '../modules/audit/routes.js';
import { calendarRoutes } from '../modules/calendar/routes.js';
import { catalogRoutes } from '../modules/catalog/routes.js';
import { catalogSearchRoutes } from '../modules/catalog/search-routes.js';
import { demandRoutes } from '../modules/demands/routes.js';
import { exchangeDataRoutes } from '../modules/exchange/routes.js';
import { subscriptionConsoleRoutes } from '../modules/exchange/subscription-routes.js';
import { grantRoutes } from '../modules/grants/routes.js';
import { shareRequestRoutes } from '../modules/requests/routes.js';
import { nodeRoutes } from '../modules/nodes/routes.js';
import { notificationRoutes } from '../modules/notifications/routes.js';
import { pkiRoutes } from '../modules/pki/routes.js';
import { regionRoutes } from '../modules/regions/routes.js';
import { systemRoutes } from '../modules/systems/routes.js';
import { describeAccess, PUBLIC, type Access } from './access.js';
import { consoleRoutes } from './console-static.js';
import { presentedCertificate } from './client-certificate.js';
import { ANONYMOUS } from './actor.js';
import type { Config } from './config.js';
import { installErrorHandling } from './http-errors.js';
import { makeAjv } from './input-check.js';
import type { Platform } from './platform.js';
import { Type } from 'typebox';

export type GsApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export const SESSION_COOKIE = 'gs_session';
export const API_PREFIX = '/api/v1';

function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function credentialsOf(req: FastifyRequest): { kind: 'token' | 'session'; secret: string } | undefined {
  const auth = req.headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const secret = m?.[1];
    if (!secret) throw new GsError('GS_ERR_AUTH_TOKEN_INVALID');
    return { kind: secret.startsWith('gss_') ? 'session' : 'token', secret };
  }
  const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
  return cookie ? { kind: 'session', secret: cookie } : undefined;
}

/** The request id: the caller's `X-Request-Id` when it is a sane token, else a new UUID (both ports). */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && /^[A-Za-z0-9._-]{8,128}$/.test(given) ? given : randomUUID();
}

export interface AppOptions {
  readonly platform: Platform;
  readonly config: Config;
  readonly logger: FastifyBaseLogger;
  /**
   * Called for every registered route (HEAD twins and documentation routes included) after its
   * access declaration is settled; the role-matrix test enumerates the routes with it.
   */
  readonly onRoute?: (route: RouteOptions) => void;
  /** The built web console (index.html, assets/); the build's own dist/web by default. */
  readonly consoleDir?: string;
}

/** The console/API app: every route declares its access, every error goes through one mapper. */
export async function buildApp({ platform, config, logger, onRoute, consoleDir }: AppOptions): Promise<GsApp> {
  const bodyAjv = makeAjv({ coerceTypes: false });
  const paramAjv = makeAjv({ coerceTypes: 'array' });
  const app: GsApp = Fastify({
    loggerInstance: logger,
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    requestIdHeader: false,
    genReqId: requestIdOf,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    routerOptions: { ignoreTrailingSlash: true },
    // With consoleTls the port speaks HTTPS and asks for (but does not require) a client
    // certificate of the platform CA: certificate login checks it per request. Credentials come
    // later (useConsoleCredentials), once the CA exists.
    ...(config.consoleTls
      ? {
          serverFactory: (handler: (req: IncomingMessage, res: ServerResponse) => void) =>
            createHttpsServer({ requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, handler) as unknown as Server,
        }
      : {}),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // Every body this app accepts is JSON: a text/plain body is refused (415), not parsed as a string.
  app.removeContentTypeParser('text/plain');

  // Bodies are checked strictly (a string is not coerced into a number); query and path
  // parameters arrive as text and are coerced.
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : paramAjv).compile(schema));

  // Every route must say what it requires; documentation routes of the UI plugin are public.
  app.addHook('onRoute', (route) => {
    const config = (route.config ?? {}) as { access?: Access };
    if (!config.access) {
      if (route.url.startsWith('/api/docs') || route.url === '*') {
        route.config = { ...config, access: PUBLIC };
      } else {
        throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
      }
    }
    const access = (route.config as { access: Access }).access;
    if (route.schema) {
      const schema = route.schema as Record<string, unknown>;
      // A GET route and its HEAD twin share one schema object: note the access only once.
      const note = describeAccess(access);
      if (typeof schema.description !== 'string' || !schema.description.includes(note)) {
        schema.description = [schema.description, note].filter(Boolean).join('\n\n');
      }
      if (access.kind !== 'public') schema.security = [{ session: [] }, { bearer: [] }];
    }
    onRoute?.(route);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'govshare API',
        version: '1',
        description: '政务信息资源共享交换平台 — console/API port. Errors are `{ code, message, messageZh, details, requestId }`; see docs/errors.md.',
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          bearer: { type: 'http', scheme: 'bearer', description: 'Personal API token (gst_…)' },
        },
      },
    },
  });
  if (config.apiDocs) {
    await app.register(swaggerUi, { routePrefix: '/api/docs', uiConfig: { docExpansion: 'list' } });
  }

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    req.ctx = { actor: ANONYMOUS, requestId: req.id, ip: req.ip };
    req.setupRequired = [];
    const access = req.routeOptions.config.access;
    if (!access || access.kind === 'public') return;
    const creds = credentialsOf(req);
    if (!creds) throw new GsError('GS_ERR_AUTH_REQUIRED');
    const auth = creds.kind === 'token' ? await platform.accounts.authenticateToken(creds.secret) : await platform.accounts.authenticateSession(creds.secret);
    if (auth.certificateSha256 !== null) {
      // A session opened with a certificate lives only on connections presenting that certificate.
      const presented = presentedCertificate(req.raw);
      if (!presented.ok || presented.certificate.sha256 !== auth.certificateSha256) throw new GsError('GS_ERR_AUTH_SESSION_CERT_MISMATCH');
    }
    req.ctx = { actor: auth.actor, requestId: req.id, ip: req.ip };
    req.setupRequired = auth.setupRequired;
    if (auth.setupRequired.length > 0 && !(access.kind === 'self' && access.duringSetup)) {
      throw new GsError('GS_ERR_AUTH_SETUP_REQUIRED', { steps: auth.setupRequired.join(', ') });
    }
    if (access.kind === 'permission' && !auth.actor.permissions.has(access.permission)) {
      await platform.audit.record(req.ctx, {
        action: 'access.denied',
        targetType: 'route',
        targetId: `${req.method} ${req.routeOptions.url ?? req.url}`,
        outcome: 'denied',
        details: { permission: access.permission },
      });
      throw new GsError('GS_ERR_AUTH_FORBIDDEN', { permission: access.permission });
    }
  });

  installErrorHandling(app, { bodyLimitBytes: config.bodyLimitBytes, label: 'request' });

  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (req.url.startsWith(API_PREFIX)) {
      reply.header('cache-control', 'no-store');
      reply.header('x-frame-options', 'DENY');
    }
    return payload;
  });

  app.get('/healthz', { config: { access: PUBLIC }, schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { config: { access: PUBLIC }, schema: { hide: true } }, async (_req, reply) => {
    const r = await platform.readiness();
    const ready = r.database && r.schema?.current === true && r.bootstrapped;
    return reply.status(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not ready',
      database: r.database ? platform.database.kind : 'unreachable',
      schema: r.schema,
      bootstrapped: r.bootstrapped,
      ...(r.reason ? { reason: r.reason } : {}),
    });
  });

  await app.register(
    async (api) => {
      const v1 = api as unknown as GsApp;
      v1.get(
        '/openapi.json',
        { config: { access: PUBLIC }, schema: { hide: true, response: { 200: Type.Object({}, { additionalProperties: true }) } } },
        async () => app.swagger() as unknown as Record<string, unknown>,
      );
      await accountRoutes(v1, platform);
      await agencyRoutes(v1, platform);
      await regionRoutes(v1, platform);
      await calendarRoutes(v1, platform);
      await systemRoutes(v1, platform);
      await nodeRoutes(v1, platform);
      await pkiRoutes(v1, platform);
      await auditRoutes(v1, platform);
      await catalogRoutes(v1, platform);
      await catalogSearchRoutes(v1, platform);
      await demandRoutes(v1, platform);
      await shareRequestRoutes(v1, platform);
      await grantRoutes(v1, platform);
      await attachmentRoutes(v1, platform);
      await exchangeDataRoutes(v1, platform);
      await subscriptionConsoleRoutes(v1, platform);
      await notificationRoutes(v1, platform);
    },
    { prefix: API_PREFIX },
  );

  await consoleRoutes(app, consoleDir);

  return app;
}

/**
 * Installs the console port's TLS key and certificate, and the platform CA its client certificates
 * are checked against (new connections use them). Only for an app built with `consoleTls`.
 */
export function useConsoleCredentials(app: GsApp, credentials: { key: string; cert: string; ca: string }): void {
  (app.server as unknown as HttpsServer).setSecureContext({ key: credentials.key, cert: credentials.cert, ca: credentials.ca });
}
