// Regenerates the table of docs/errors.md from the registry (run after `npm run build`):
//   node scripts/errors-doc.mjs > docs/errors.md
// The test src/lib/errors.test.ts checks the document against the registry.
import { ERRORS, GsError } from '../dist/src/lib/errors.js';
import { exitCodeFor } from '../dist/src/cli/exit-codes.js';

const lines = [
  '# Error codes',
  '',
  'Every error the API or the CLI reports has a code from this list. API errors are JSON:',
  '',
  '```json',
  '{ "code": "GS_ERR_AGENCY_USCC_INVALID", "message": "USCC 9143… is not valid: the check character is wrong (expected N)", "messageZh": "统一社会信用代码 … 不合法：…", "details": { "uscc": "…", "reason": "…", "fields": [{ "field": "body.uscc", "rule": "checkCharacter", "message": "…", "messageZh": "…" }] }, "requestId": "…" }',
  '```',
  '',
  '`details.fields` names each field and the rule it breaks (for request validation: the JSON Schema keyword, e.g. `required`, `additionalProperties`, `maxLength`, `format`, `enum`). `requestId` is also in the `x-request-id` response header and in every log line of that request. Codes are never reused; the CLI prints `govshare: <message> [<code>]` on one line and exits with the code in the last column (see docs/cli.md).',
  '',
  '| code | HTTP | CLI exit | meaning |',
  '|---|---|---|---|',
];
for (const [code, d] of Object.entries(ERRORS)) {
  lines.push(`| \`${code}\` | ${d.status} | ${exitCodeFor(new GsError(code))} | ${d.message} — ${d.messageZh} |`);
}
process.stdout.write(`${lines.join('\n')}\n`);
