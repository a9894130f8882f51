import type { Command } from 'commander';
import { action, configFrom, print, runOperation } from './context.js';
import { printCreatedAdmins } from './serve.js';

export function registerInit(program: Command): void {
  program
    .command('init')
    .description('prepare an empty platform (idempotent): schema, GB/T 2260 regions, the first operator, security admin and auditor')
    .action(
      action(async (_opts: unknown, command: Command) => {
        const result = await runOperation(configFrom(command), 'init', {});
        print(command, result, () =>
          result.createdAdmins.length === 0 ? 'govshare: already initialised; nothing to do.' : `govshare: initialised${result.regionsLoaded ? ` (${result.regionsLoaded} regions loaded)` : ''}.`,
        );
        if (!command.optsWithGlobals<{ json?: boolean }>().json) printCreatedAdmins(result);
      }),
    );
}
