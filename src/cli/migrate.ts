import type { Command } from 'commander';
import { action, configFrom, print, runOperation } from './context.js';

export function registerMigrate(program: Command): void {
  program
    .command('migrate')
    .description('bring the database schema up to date (servers also do this at start) and show its version')
    .action(
      action(async (_opts: unknown, command: Command) => {
        const status = await runOperation(configFrom(command), 'migrate', {});
        print(command, status, () => `govshare: database schema at version ${status?.dbVersion} (this govshare: ${status?.codeVersion}).`);
      }),
    );
}
