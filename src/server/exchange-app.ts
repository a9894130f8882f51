import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { TLSSocket } from 'node:tls';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { GsError } from '../lib/errors.js';
import type { ExchangeIdentity, TlsCredentials } from '../modules/pki/service.js';
import { SUBJECT_TYPES } from '../modules/pki/schemas.js';
import { pullRoutes } from '../modules/exchange/pull-routes.js';
import { verifyRoutes } from '../modules/exchange/verify-routes.js';
import { subscriptionRoutes } from '../modules/exchange/subscription-routes.js';
import { verifyJobRoutes } from '../modules/exchange/verify-job-routes.js';
import { requestIdOf } from './app.js';
import type { Config } from './config.js';
import { installErrorHandling } from './http-errors.js';
import type { Platform } from './platform.js';
import { DateTime, ERROR_RESPONSES, literals, Uuid } from './schema-kit.js';

export type ExchangeApp = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

declare module 'fastify' {
  interface FastifyRequest {
    /** On the exchange port: the holder of the client certificate, checked for this request. */
    exchange: ExchangeIdentity | null;
  }
}

const WhoAmI = Type.Object({
  subjectType: literals(SUBJECT_TYPES),
  subjectId: Uuid,
  name: Type.String(),
  agencyId: Type.Union([Uuid, Type.Null()]),
  certificateId: Uuid,
  serialNumber: Type.String(),
  notAfter: DateTime,
  requestId: Type.String(),
});

/** The names the exchange listener's certificate is issued for: the configured one, else the host, and always localhost. */
export function exchangeServerNames(config: Config): string[] {
  const wildcard = config.host === '0.0.0.0' || config.host === '::';
  const first = config.exchangeServerName ?? (wildcard ? hostname() : config.host);
  return [...new Set([first, 'localhost', '127.0.0.1'])];
}

/**
 * The exchange port's app: HTTPS with mutual TLS. TLS itself (OpenSSL) refuses, at the handshake,
 * a client without a certificate or with one not issued by the platform CA or outside its validity.
 * Every request then maps the certificate to its holder through the database (`PkiService.identify`),
 * so a revoked certificate or a deactivated system or agency is refused with a GS_ERR_PKI_* code
 * on its next request, without a restart.
 *
 * The server starts without credentials so it can take its port before the platform is
 * bootstrapped; `useCredentials` installs (and later renews) them with `setSecureContext`.
 */
export async function buildExchangeApp({ platform, config, logger }: { platform: Platform; config: Config; logger: FastifyBaseLogger }): Promise<ExchangeApp> {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    genReqId: requestIdOf,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    serverFactory: (handler) => {
      const server = createServer({ requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, handler);
      // The certificate of a connection cannot change under it: what `onRequest` read is kept per socket.
      server.on('secureConnection', (socket: TLSSocket) => socket.disableRenegotiation());
      server.on('tlsClientError', (err, socket) => {
        logger.info({ reason: err.message, address: socket.remoteAddress }, 'exchange handshake refused');
      });
      return server;
    },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as ExchangeApp;

  app.decorateRequest('exchange', null);
  const peers = new WeakMap<TLSSocket, { readonly serialNumber: string; readonly fingerprint256: string }>();

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-request-id', req.id);
    const socket = req.raw.socket as TLSSocket;
    let peer = peers.get(socket);
    if (!peer) {
      // Parsing the certificate into an object costs more than the rest of the check: once per connection.
      const c = socket.getPeerCertificate();
      peer = { serialNumber: c.serialNumber, fingerprint256: c.fingerprint256 };
      peers.set(socket, peer);
    }
    // TLS verified the chain already (rejectUnauthorized); a missing certificate cannot get here.
    if (!peer.serialNumber) throw new GsError('GS_ERR_PKI_CERT_UNKNOWN', { serialNumber: 'none' });
    // Revocation and the holder's state are checked on every request (identify), never per connection.
    req.exchange = await platform.pki.identify(peer);
  });

  installErrorHandling(app, { bodyLimitBytes: config.bodyLimitBytes, label: 'exchange request' });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
    return payload;
  });

  app.get('/exchange/v1/whoami', { schema: { response: { 200: WhoAmI, ...ERROR_RESPONSES } } }, async (req) => {
    const who = req.exchange!;
    return { ...who, requestId: req.id };
  });

  await pullRoutes(app, platform);
  await verifyRoutes(app, platform);
  await subscriptionRoutes(app, platform);
  await verifyJobRoutes(app, platform);

  return app;
}

/** Installs the TLS key, certificate and trusted CA on the listener (new connections use them). */
export function useCredentials(app: ExchangeApp, credentials: TlsCredentials): void {
  app.server.setSecureContext({ key: credentials.key, cert: credentials.cert, ca: credentials.ca });
}
