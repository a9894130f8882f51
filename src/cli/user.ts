import type { Command } from 'commander';
import { ROLES } from '../modules/accounts/permissions.js';
import { action, configFrom, print, runOperation, table } from './context.js';

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('accounts and roles');

  user
    .command('add <username>')
    .description('create an account with a one-time password (shown once)')
    .requiredOption('--display-name <name>', 'the person’s name')
    .option('--agency <codeOrId>', 'the agency the account belongs to (needed for agency roles)')
    .option('--roles <roles>', `comma-separated: ${ROLES.join(', ')}`, list, [])
    .option('--email <email>')
    .option('--phone <phone>')
    .action(
      action(async (username: string, opts: { displayName: string; agency?: string; roles: string[]; email?: string; phone?: string }, command: Command) => {
        const r = await runOperation(configFrom(command), 'userAdd', { username, displayName: opts.displayName, agency: opts.agency, roles: opts.roles, email: opts.email, phone: opts.phone });
        print(command, r, () => `govshare: account ${r.user.username} created (roles: ${r.user.roles.join(', ') || 'none'}).\none-time password (shown once, must be changed at first login): ${r.password}`);
      }),
    );

  user
    .command('list')
    .description('list accounts')
    .option('--agency <codeOrId>')
    .option('--role <role>')
    .action(
      action(async (opts: { agency?: string; role?: string }, command: Command) => {
        const items = await runOperation(configFrom(command), 'userList', opts);
        print(command, items, () =>
          items.length === 0
            ? '(no accounts)'
            : table(
                ['user name', 'name', 'roles', 'active', 'totp', 'locked until'],
                items.map((u) => [u.username, u.displayName, u.roles.join(',') || '-', u.active ? 'yes' : 'no', u.totpEnabled ? 'yes' : 'no', u.lockedUntil ?? '-']),
              ),
        );
      }),
    );

  user
    .command('reset-password <username>')
    .description('issue a new one-time password (ends the account’s sessions, lifts a lockout)')
    .action(
      action(async (username: string, _opts: unknown, command: Command) => {
        const r = await runOperation(configFrom(command), 'userResetPassword', { username });
        print(command, r, () => `govshare: new one-time password for ${r.user.username} (shown once): ${r.password}`);
      }),
    );

  user
    .command('roles <username>')
    .description('show an account’s roles, or replace them with --set')
    .option('--set <roles>', `comma-separated: ${ROLES.join(', ')}; empty string for none`, list)
    .action(
      action(async (username: string, opts: { set?: string[] }, command: Command) => {
        const u = await runOperation(configFrom(command), 'userRoles', { username, ...(opts.set ? { roles: opts.set } : {}) });
        print(command, u, () => `${u.username}: ${u.roles.join(', ') || '(no roles)'}`);
      }),
    );
}
