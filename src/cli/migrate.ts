import type { Command } from 'commander';
import { action, configFrom, print, runOperation } from './context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (servers also do this at start) and show its version')
    .action(
      action(async (_opts: unknown, command: Command) => {
        // `init` migrates; its bootstrap part is idempotent and cheap on a set-up platform.
        await runOperation(configFrom(command), 'init', {});
        const status = await runOperation(configFrom(command), 'schemaStatus', {});
        print(command, status, () => `govshare: database schema at version ${status?.dbVersion} (this govshare: ${status?.codeVersion}).`);
      }),
    );
}
