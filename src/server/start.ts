import pino, { type Logger } from 'pino';
import { GsError } from '../lib/errors.js';
import { runAdminOperation } from './admin-operations.js';
import { adminSocketPath, listenAdminSocket } from './admin-socket.js';
import { buildApp, type GsApp } from './app.js';
import { buildExchangeApp, exchangeServerNames, useCredentials, type ExchangeApp } from './exchange-app.js';
import type { Config } from './config.js';
import { Platform, type BootstrapResult } from './platform.js';

export interface RunningServer {
  readonly app: GsApp;
  readonly platform: Platform;
  readonly url: string;
  /** The exchange port (HTTPS, mutual TLS with platform-issued certificates). */
  readonly exchange: ExchangeApp;
  readonly exchangeUrl: string;
  readonly bootstrap: BootstrapResult;
  /** Stop accepting, finish in-flight requests, close the admin socket and the database. */
  close(): Promise<void>;
}

export function createLogger(config: Config): Logger {
  return pino({ level: config.logLevel, base: { service: 'govshare' }, timestamp: pino.stdTimeFunctions.isoTime });
}

/** Opens the database (migrating it), bootstraps an empty platform and listens on the console/API port. */
export interface StartOptions {
  /** Called after bootstrap, before the server reports ready (prints one-time passwords). */
  readonly onBootstrap?: (result: BootstrapResult) => void;
}

export async function startServer(config: Config, logger: Logger = createLogger(config), options: StartOptions = {}): Promise<RunningServer> {
  const socketPath = config.databaseUrl ? null : adminSocketPath(config.dataDir);
  const { platform, migration } = await Platform.open(config, { adminSocket: socketPath });
  let app: GsApp | undefined;
  let socket: { close(): Promise<void> } | undefined;
  let exchange: ExchangeApp | undefined;
  let tlsRenewal: NodeJS.Timeout | undefined;
  let checkpoints: NodeJS.Timeout | undefined;
  try {
    if (migration && migration.applied.length > 0) {
      logger.info({ applied: migration.applied, version: migration.version }, 'database schema migrated');
    }
    if (platform.keys.generated) {
      logger.warn(
        { keyFile: `${config.dataDir}/master.key` },
        'using a master key generated for the quick start; production needs an operator-provided key (GOVSHARE_MASTER_KEY_FILE), kept apart from the data and its backups',
      );
    }
    app = await buildApp({ platform, config, logger });
    try {
      await app.listen({ host: config.host, port: config.port });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new GsError('GS_ERR_SERVER_PORT_IN_USE', { host: config.host, port: config.port });
      throw new GsError('GS_ERR_SERVER_LISTEN', { host: config.host, port: config.port, reason: err.message });
    }
    // The exchange port is taken before bootstrap too; its TLS credentials come once the CA exists.
    exchange = await buildExchangeApp({ platform, config, logger });
    try {
      await exchange.listen({ host: config.host, port: config.exchangePort });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'EADDRINUSE') throw new GsError('GS_ERR_SERVER_PORT_IN_USE', { host: config.host, port: config.exchangePort });
      throw new GsError('GS_ERR_SERVER_LISTEN', { host: config.host, port: config.exchangePort, reason: err.message });
    }
    // After listen: a start that cannot get its port must not create administrator accounts
    // whose one-time passwords nobody would see.
    const bootstrap = await platform.bootstrap();
    if (bootstrap.regionsLoaded > 0) logger.info({ regions: bootstrap.regionsLoaded }, 'GB/T 2260 regions loaded');
    options.onBootstrap?.(bootstrap);
    const runningExchange = exchange;
    const serverNames = exchangeServerNames(config);
    useCredentials(runningExchange, await platform.pki.serverCredentials(serverNames));
    // The listener's certificate is renewed (and shared through the database) well before it expires.
    tlsRenewal = setInterval(() => {
      platform.pki.serverCredentials(serverNames).then(
        (credentials) => useCredentials(runningExchange, credentials),
        (err: unknown) => logger.error({ err }, 'renewing the exchange port certificate failed'),
      );
    }, 6 * 3_600_000);
    tlsRenewal.unref();
    logger.info({ url: `https://${serverNames[0]}:${config.exchangePort}`, serverNames }, 'exchange port listening (mutual TLS)');
    if (socketPath) socket = await listenAdminSocket(socketPath, (name, input, osUser) => runAdminOperation(platform, name, input, osUser));
    // Signed audit checkpoints every T seconds (and every N events, as events are appended).
    const checkpoint = (): Promise<void> =>
      platform.audit.checkpoint().then(
        () => undefined,
        (err: unknown) => logger.error({ err }, 'audit checkpoint failed'),
      );
    let inFlight = Promise.resolve();
    checkpoints = setInterval(() => {
      inFlight = inFlight.then(checkpoint);
    }, config.auditCheckpointSeconds * 1000);
    checkpoints.unref();
    platform.markReady();
    logger.info({ url: `http://${config.host}:${config.port}`, database: platform.database.kind, location: platform.database.location }, 'govshare is serving');
    const runningApp = app;
    let closing: Promise<void> | undefined;
    return {
      app: runningApp,
      platform,
      url: `http://${config.host}:${config.port}`,
      exchange: runningExchange,
      exchangeUrl: `https://${serverNames[0]}:${config.exchangePort}`,
      bootstrap,
      close: () => {
        closing ??= (async () => {
          clearInterval(checkpoints);
          clearInterval(tlsRenewal);
          await Promise.all([runningApp.close(), runningExchange.close()]);
          await socket?.close();
          // The events of the last moments are signed before the process goes.
          await inFlight.then(checkpoint);
          await platform.close();
        })();
        return closing;
      },
    };
  } catch (e) {
    clearInterval(checkpoints);
    clearInterval(tlsRenewal);
    await app?.close().catch(() => undefined);
    await exchange?.close().catch(() => undefined);
    await socket?.close().catch(() => undefined);
    await platform.close().catch(() => undefined);
    throw e;
  }
}
