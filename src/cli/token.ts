import type { Command } from 'commander';
import { GsError } from '../lib/errors.js';
import { action, configFrom, print, runOperation } from './context.js';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

/** `30m`, `12h`, `1d`, `2w` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d{1,4})([mhdw])$/.exec(text.trim());
  if (!m) throw new GsError('GS_ERR_TOKEN_EXPIRY', { expires: text, reason: 'use a number and a unit: 30m, 12h, 1d, 2w' });
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

export function registerToken(program: Command): void {
  const token = program.command('token').description('personal API tokens for scripts and automation');

  token
    .command('create')
    .description('create an API token for an account (printed once; only its hash is stored)')
    .requiredOption('--user <username>', 'the account the token acts as')
    .requiredOption('--expires <duration>', 'lifetime: 30m, 12h, 1d, 2w (at most 366 days)')
    .option('--name <name>', 'what the token is for', 'cli')
    .option('--scope <permissions>', 'comma-separated permissions (default: all the account holds)', (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .action(
      action(async (opts: { user: string; expires: string; name: string; scope?: string[] }, command: Command) => {
        const expiresAt = new Date(Date.now() + parseDuration(opts.expires)).toISOString();
        const r = await runOperation(configFrom(command), 'tokenCreate', { username: opts.user, name: opts.name, expiresAt, ...(opts.scope ? { scopes: opts.scope } : {}) });
        print(command, { token: r.token, apiToken: r.view }, () => `${r.token}\n# id ${r.view.id}, expires ${r.view.expiresAt}, scopes ${r.view.scopes.join(',')}`);
      }),
    );

  token
    .command('revoke <id>')
    .description('revoke an API token by id')
    .option('--reason <text>', 'why', 'revoked from the command line')
    .action(
      action(async (id: string, opts: { reason: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'tokenRevoke', { id, reason: opts.reason });
        print(command, r, () => `govshare: token ${r.id} revoked.`);
      }),
    );
}
