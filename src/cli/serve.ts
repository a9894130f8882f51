import type { Command } from 'commander';
import type { BootstrapResult } from '../server/platform.js';
import { createLogger, startServer, type RunningServer } from '../server/start.js';
import { action, configFrom, table } from './context.js';

export function printCreatedAdmins(result: BootstrapResult): void {
  if (result.createdAdmins.length === 0) return;
  process.stdout.write(
    [
      '',
      'govshare: this platform had no administrators; these accounts were created.',
      'Their one-time passwords are shown only now. At first login each must set a new password',
      'and enrol an authenticator app (TOTP). The three roles are held by three different people (三权分立).',
      '',
      table(
        ['role', 'user name', 'one-time password'],
        result.createdAdmins.map((a) => [a.role, a.username, a.password]),
      ),
      '',
      '',
    ].join('\n'),
  );
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the platform: the console/API port and the exchange port (mutual TLS)')
    .option('--host <host>', 'address to listen on (GOVSHARE_HOST, default 127.0.0.1)')
    .option('--port <port>', 'console/API port (GOVSHARE_PORT, default 8080)')
    .action(
      action(async (opts: { host?: string; port?: string }, command: Command) => {
        const config = configFrom(command, { ...(opts.host ? { host: opts.host } : {}), ...(opts.port ? { port: opts.port } : {}) });
        const logger = createLogger(config);
        // Handlers first: a signal that arrives while starting stops the server once it is up.
        let server: RunningServer | undefined;
        let stopSignal: string | undefined;
        const stop = (): void => {
          if (!server || !stopSignal) return;
          const running = server;
          server = undefined;
          logger.info({ signal: stopSignal }, 'shutting down: no new connections, finishing requests in flight');
          const force = setTimeout(() => {
            logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'shutdown timed out; exiting');
            process.exit(1);
          }, config.shutdownTimeoutMs);
          force.unref();
          running.close().then(
            () => {
              logger.info('stopped');
              process.exit(0);
            },
            (e: unknown) => {
              logger.error({ err: e }, 'shutdown failed');
              process.exit(1);
            },
          );
        };
        for (const signal of ['SIGTERM', 'SIGINT'] as const) {
          process.on(signal, () => {
            stopSignal ??= signal;
            stop();
          });
        }
        server = await startServer(config, logger, { onBootstrap: printCreatedAdmins });
        stop();
      }),
    );
}
