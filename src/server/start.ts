import { readFileSync, statSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import pino, { type Logger } from 'pino';
import { GsError } from '../lib/errors.js';
import { startBackupSchedule } from '../modules/backup/scheduler.js';
import { startDeadlineSweep } from '../modules/requests/deadline-sweep.js';
import { runAdminOperation } from './admin-operations.js';
import { adminSocketPath, listenAdminSocket } from './admin-socket.js';
import { buildApp, useConsoleCredentials, type GsApp } from './app.js';
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
  // A console certificate that cannot be used stops the start before anything else happens.
  if (config.consoleTls && config.consoleTlsCertFile) consoleFiles(config, undefined);
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
        'using a master key generated for the quick start; production needs an operator-provided key (GOVSHARE_MASTER_KEY_FILE, or a passphrase: GOVSHARE_MASTER_PASSPHRASE_FILE / GOVSHARE_MASTER_PASSPHRASE), kept apart from the data and its backups',
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
    for (const y of bootstrap.calendar.loaded) logger.info({ year: y.year, days: y.days, keptOperatorDays: y.keptOperatorDays }, 'national holiday arrangement loaded into the working-day calendar');
    for (const y of bootstrap.calendar.skipped) logger.warn({ year: y.year, revision: y.revision }, `shipped national holiday arrangement not applied: ${y.reason} (docs/calendar.md)`);
    options.onBootstrap?.(bootstrap);
    // Grant checks and certificate holders are cached from here on, invalidated through LISTEN.
    await platform.startCaches();
    const caAlgorithm = await platform.pki.authorityAlgorithm();
    if (caAlgorithm !== config.caKeyAlgorithm) {
      logger.warn({ configured: config.caKeyAlgorithm, existing: caAlgorithm }, 'GOVSHARE_CA_KEY_ALGORITHM differs from the existing platform CA, which keeps its own algorithm (docs/pki.md#sm2)');
    }
    const runningExchange = exchange;
    const consoleApp = app;
    const serverNames = exchangeServerNames(config);
    const installTls = async (): Promise<void> => {
      const credentials = await platform.pki.serverCredentials(serverNames);
      useCredentials(runningExchange, credentials);
      if (config.consoleTls) useConsoleCredentials(consoleApp, config.consoleTlsCertFile ? { ...consoleFiles(config, credentials.ca), ca: credentials.ca } : credentials);
    };
    await installTls();
    // The listeners' certificates are renewed (and shared through the database) well before they
    // expire; an operator's console certificate files are read again, so replacing them needs no restart.
    tlsRenewal = setInterval(() => {
      installTls().catch((err: unknown) => logger.error({ err }, 'renewing the TLS certificates of the listeners failed'));
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
    // Scheduled backups (docs/backup.md). The last step that can fail: a failed start has none to stop.
    const backupSchedule = await startBackupSchedule(config, platform, logger);
    // Share-request deadlines and grant ends (docs/requests.md).
    const deadlineSweep = startDeadlineSweep(platform.requests, platform.grants, { seconds: config.requestSweepSeconds, grantExpiryReminderDays: config.grantExpiryReminderDays }, logger);
    // Notification e-mail and webhooks queued by this or any other process (docs/notifications.md).
    platform.notificationDelivery.start(logger);
    // Push batches to consumers' webhooks (docs/exchange.md#push).
    platform.pushDelivery.start(logger);
    // Batch verification jobs submitted to this or any other process (docs/exchange.md).
    platform.verifyJobs.start(logger);
    if (!config.smtpUrl) logger.info('notification e-mail is off (GOVSHARE_SMTP_URL is not set); the inbox and webhooks work');
    platform.markReady();
    logger.info({ url: `${config.consoleTls ? 'https' : 'http'}://${config.host}:${config.port}`, database: platform.database.kind, location: platform.database.location }, 'govshare is serving');
    const runningApp = app;
    let closing: Promise<void> | undefined;
    return {
      app: runningApp,
      platform,
      url: `${config.consoleTls ? 'https' : 'http'}://${config.host}:${config.port}`,
      exchange: runningExchange,
      exchangeUrl: `https://${serverNames[0]}:${config.exchangePort}`,
      bootstrap,
      close: () => {
        closing ??= (async () => {
          clearInterval(checkpoints);
          clearInterval(tlsRenewal);
          await Promise.all([runningApp.close(), runningExchange.close()]);
          await socket?.close();
          await backupSchedule.stop();
          await deadlineSweep.stop();
          await platform.notificationDelivery.stop();
          await platform.pushDelivery.stop();
          await platform.verifyJobs.stop();
          await platform.stopCaches();
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

/**
 * The operator's certificate and key for the console port (a certificate browsers already trust),
 * with the platform CA for checking client certificates. Read and checked at start and at every
 * renewal, so a bad file is named instead of failing handshakes one by one.
 */
function consoleFiles(config: Config, ca: string | undefined): { key: string; cert: string; ca: string | undefined } {
  const certFile = config.consoleTlsCertFile!;
  const keyFile = config.consoleTlsKeyFile!;
  let key: string;
  let cert: string;
  try {
    cert = readFileSync(certFile, 'utf8');
    key = readFileSync(keyFile, 'utf8');
  } catch (e) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_CONSOLE_TLS_CERT_FILE / GOVSHARE_CONSOLE_TLS_KEY_FILE', reason: (e as Error).message });
  }
  if ((statSync(keyFile).mode & 0o077) !== 0) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_CONSOLE_TLS_KEY_FILE', reason: `${keyFile} is readable by others; chmod 600 it` });
  }
  try {
    createSecureContext({ key, cert, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_CONSOLE_TLS_CERT_FILE / GOVSHARE_CONSOLE_TLS_KEY_FILE', reason: `not a usable certificate and key: ${(e as Error).message}` });
  }
  return { key, cert, ca };
}
