#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { platformVersion } from '../lib/version.js';
import { registerAgency } from './agency.js';
import { registerAttachments } from './attachments.js';
import { registerAudit } from './audit.js';
import { registerBackup } from './backup.js';
import { registerCalendar } from './calendar.js';
import { registerCatalog } from './catalog.js';
import { registerData } from './data.js';
import { registerExchange } from './exchange.js';
import { EXIT } from './exit-codes.js';
import { registerGrants } from './grants.js';
import { registerInit } from './init.js';
import { registerMigrate } from './migrate.js';
import { registerNotifications } from './notifications.js';
import { registerRequests } from './requests.js';
import { registerServe } from './serve.js';
import { registerToken } from './token.js';
import { registerUser } from './user.js';

const program = new Command('govshare')
  .description('govshare — government information-resource sharing and exchange platform (政务信息资源共享交换平台)')
  .option('--config <file>', 'JSON config file (or GOVSHARE_CONFIG)')
  .option('--data-dir <dir>', 'data directory (or GOVSHARE_DATA_DIR; default ./data)')
  .option('--json', 'print results as JSON')
  .version(platformVersion(), '-V, --version', 'print the version and exit')
  .showHelpAfterError()
  .exitOverride();

program.addHelpText(
  'after',
  `
Exit codes: 0 ok · 1 internal error · 2 usage · 3 configuration · 4 database · 5 busy (port, data directory, admin socket) · 6 not found · 7 refused input or conflict · 8 integrity check failed
Environment: GOVSHARE_HOST, GOVSHARE_PORT, GOVSHARE_EXCHANGE_PORT, GOVSHARE_DATA_DIR, DATABASE_URL, GOVSHARE_LOG_LEVEL, … (docs/configuration.md)`,
);

registerServe(program);
registerInit(program);
registerMigrate(program);
registerAgency(program);
registerCalendar(program);
registerUser(program);
registerToken(program);
registerAudit(program);
registerBackup(program);
registerCatalog(program);
registerData(program);
registerExchange(program);
registerRequests(program);
registerGrants(program);
registerAttachments(program);
registerNotifications(program);

// Subcommands report usage errors through the same path.
for (const c of program.commands) {
  c.exitOverride();
  for (const sub of c.commands) sub.exitOverride();
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exit(e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? EXIT.ok : EXIT.usage);
  }
  throw e;
}
