import type { Command } from 'commander';
import type { Agency } from '../modules/agencies/schemas.js';
import { action, configFrom, print, runOperation, table } from './context.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerAgency(program: Command): void {
  const agency = program.command('agency').description('agencies (行政机关/政务部门)');

  agency
    .command('add')
    .description('register an agency')
    .requiredOption('--code <code>', 'unique agency code')
    .requiredOption('--name <nameZh>', 'Chinese name')
    .requiredOption('--uscc <uscc>', 'unified social credit code (GB 32100)')
    .requiredOption('--region <code>', 'GB/T 2260 region code')
    .requiredOption('--level <level>', 'province | prefecture | county')
    .option('--parent <codeOrId>', 'the superior agency')
    .option('--name-in <tag=name>', 'name in another language, e.g. ug=… (repeatable)', collect, [])
    .option('--contact <name,phone,email>', 'a contact person (repeatable)', collect, [])
    .action(
      action(async (opts: { code: string; name: string; uscc: string; region: string; level: string; parent?: string; nameIn: string[]; contact: string[] }, command: Command) => {
        const names = Object.fromEntries(
          opts.nameIn.map((pair) => {
            const eq = pair.indexOf('=');
            return [pair.slice(0, eq), pair.slice(eq + 1)];
          }),
        );
        const contacts = opts.contact.map((c) => {
          const [name = '', phone, email] = c.split(',').map((s) => s.trim());
          return { name, ...(phone ? { phone } : {}), ...(email ? { email } : {}) };
        });
        const created = await runOperation(configFrom(command), 'agencyAdd', {
          code: opts.code,
          nameZh: opts.name,
          uscc: opts.uscc,
          regionCode: opts.region,
          level: opts.level as Agency['level'],
          names,
          contacts,
          ...(opts.parent ? { parent: opts.parent } : {}),
        });
        print(command, created, () => `govshare: agency ${created.code} ${created.nameZh} created (id ${created.id}).`);
      }),
    );

  agency
    .command('list')
    .description('list agencies')
    .option('--q <text>', 'part of the name or code')
    .option('--region <code>', 'only this region')
    .option('--all', 'include deactivated agencies')
    .action(
      action(async (opts: { q?: string; region?: string; all?: boolean }, command: Command) => {
        const items = await runOperation(configFrom(command), 'agencyList', { q: opts.q, regionCode: opts.region, includeInactive: opts.all ?? false });
        print(command, items, () =>
          items.length === 0 ? '(no agencies)' : table(['code', 'name', 'uscc', 'region', 'level', 'active', 'id'], items.map((a) => [a.code, a.nameZh, a.uscc, a.regionCode, a.level, a.active ? 'yes' : 'no', a.id])),
        );
      }),
    );

  agency
    .command('show <codeOrId>')
    .description('one agency')
    .action(
      action(async (codeOrId: string, _opts: unknown, command: Command) => {
        const a = await runOperation(configFrom(command), 'agencyShow', { idOrCode: codeOrId });
        print(command, a, () =>
          table(
            ['field', 'value'],
            [
              ['id', a.id],
              ['code', a.code],
              ['name', a.nameZh],
              ...Object.entries(a.names).map(([tag, n]) => [`name (${tag})`, n]),
              ['uscc', a.uscc],
              ['region', a.regionCode],
              ['level', a.level],
              ['parent', a.parentId ?? '-'],
              ['active', a.active ? 'yes' : `no (${a.deactivationReason ?? ''})`],
              ...a.contacts.map((c, i) => [`contact ${i + 1}`, [c.name, c.phone, c.email].filter(Boolean).join(', ')]),
              ['version', String(a.version)],
              ['updated', a.updatedAt],
            ],
          ),
        );
      }),
    );
}
