import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../db/test-database.js';
import type { DatabaseHandle } from '../../db/database.js';
import { GsError } from '../../lib/errors.js';
import { cliContext } from '../../server/actor.js';
import { loadConfig } from '../../server/config.js';
import { Platform } from '../../server/platform.js';
import { tampered } from './test-tampering.js';
import { PERMISSIONS } from '../accounts/permissions.js';
import { archiveSeriesProblem, verifyArchiveFile } from './archive-file.js';
import { eventHash, generateSigningKey, type ChainedEvent } from './chain.js';
import { AUDIT_MIN_RETENTION_DAYS } from './service.js';

const DAY = 86_400_000;

/** A clock that can be put anywhere: events get their `at` from it. */
let offsetMs = 0;
const now = (): Date => new Date(Date.now() + offsetMs);
const setDaysAgo = (days: number): void => {
  offsetMs = -days * DAY;
};

let handle: DatabaseHandle;
let platform: Platform;
let dir: string;
const cli = cliContext('archivist', new Set(PERMISSIONS));
const db = () => platform.db;

async function fill(n: number, label: string): Promise<void> {
  await platform.audit.recordMany(cli, Array.from({ length: n }, (_, i) => ({ action: 'test.fill', targetType: 'test', targetId: `${label}-${i}`, details: { i, label, text: '审计 "quoted"\n' } })));
}

async function seqs(): Promise<number[]> {
  return (await db().selectFrom('auditEvents').select('seq').orderBy('seq').execute()).map((r) => r.seq);
}

const file = (name: string): string => join(dir, name);
const daysAgo = (days: number): Date => new Date(Date.now() - days * DAY);

/** The lines of an archive file, to tamper with a copy. */
function linesOf(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').slice(0, -1);
}

function writeLines(path: string, lines: readonly string[]): string {
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gs-audit-archive-'));
  handle = await createTestDatabase();
  // Small checkpoint interval, so archives hold checkpoints; hashing threads for every verify, so
  // the threaded path is what these tests check.
  platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent', auditCheckpointEvents: 10 } }), now);
  // A platform that has run for almost a year: its first events are 300 days old.
  setDaysAgo(300);
  await platform.bootstrap();
  await fill(25, 'd300');
  setDaysAgo(250);
  await fill(15, 'd250');
  setDaysAgo(200);
  await fill(12, 'd200');
  await platform.audit.checkpoint();
  setDaysAgo(0);
  await fill(7, 'today');
});

afterAll(async () => {
  await handle?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('retention', () => {
  it('refuses a cut-off younger than 180 days, naming the latest one allowed', async () => {
    const e = await platform.audit.archive(cli, { before: daysAgo(179), out: file('young.ndjson') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(GsError);
    expect((e as GsError).code).toBe('GS_ERR_AUDIT_RETENTION');
    const latest = new Date((e as GsError).params.latest as string).getTime();
    expect(Math.abs(latest - daysAgo(AUDIT_MIN_RETENTION_DAYS).getTime())).toBeLessThan(60_000);
    expect((e as GsError).message).toContain(String(AUDIT_MIN_RETENTION_DAYS));
    expect(existsSync(file('young.ndjson'))).toBe(false);
  });

  it('the database refuses to delete an event that is not archived, or younger than 180 days, even by raw SQL', async () => {
    await expect(sql`delete from audit_events where seq = 1`.execute(db())).rejects.toThrow(/not in an archive/);
    const young = (await seqs()).at(-1)!;
    await expect(sql`delete from audit_events where seq = ${young}`.execute(db())).rejects.toThrow(/younger than the minimum retention of 180 days/);
    await expect(sql`truncate audit_events`.execute(db())).rejects.toThrow(/append-only/);
  });
});

describe('archive', () => {
  let first: string;
  let firstLast: number;

  it('moves the oldest events to a signed file, removes them, audits it; the live chain verifies from the archive on', async () => {
    const all = await seqs();
    first = file('audit-1.ndjson');
    const r = await platform.audit.archive(cli, { before: daysAgo(280), out: first });
    expect(r.archived).toBe(true);
    if (!r.archived) return;
    firstLast = r.lastSeq;
    expect(r).toMatchObject({ firstSeq: 1, events: r.lastSeq });
    expect(r.lastSeq).toBeGreaterThan(25);
    expect(statSync(first).mode & 0o777).toBe(0o600);
    // No partial file is left beside it.
    expect(readFileSync(first, 'utf8').split('\n').at(-1)).toBe('');

    const live = await seqs();
    expect(live[0]).toBe(r.lastSeq + 1);
    expect(live.length).toBe(all.length - r.events + 1); // + the audit.archive event
    const [event] = await platform.audit.search({ action: 'audit.archive', limit: 1 });
    expect(event).toMatchObject({ actorName: cli.actor.name, targetType: 'auditArchive', details: { firstSeq: 1, lastSeq: r.lastSeq, fileSha256: r.fileSha256 } });

    const report = await platform.audit.verify();
    expect(report).toMatchObject({ ok: true, archives: { count: 1, lastSeq: r.lastSeq, lastHash: r.lastHash, newest: { fileSha256: r.fileSha256 } } });
    expect(report.events).toBe(report.lastSeq - r.lastSeq);

    const offline = await verifyArchiveFile(first);
    expect(offline).toMatchObject({ ok: true, firstSeq: 1, lastSeq: r.lastSeq, events: r.events, lastHash: r.lastHash, fileSha256: r.fileSha256, pinned: null });
    expect(offline.checkpoints).toBeGreaterThan(0);
  });

  it('the database still refuses to delete young events after an archive', async () => {
    const young = (await seqs()).at(-1)!;
    await expect(sql`delete from audit_events where seq = ${young}`.execute(db())).rejects.toThrow(/younger than the minimum retention/);
    // Old, but not archived: the events from 250 days ago.
    const old = (await seqs())[0]!;
    await expect(sql`delete from audit_events where seq = ${old}`.execute(db())).rejects.toThrow(/not in an archive/);
    await expect(sql`update audit_archives set file_name = 'x'`.execute(db())).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_archives`.execute(db())).rejects.toThrow(/append-only/);
  });

  it('an archive record the platform did not sign (inserted by raw SQL to unlock deletion) fails verification', async () => {
    const live = await seqs();
    const anchor = (await platform.audit.verify()).archives;
    // The oldest live event is 250 days old and not archived: a forged record lets the database delete it.
    const row = await db().selectFrom('auditEvents').select(['seq', 'hash', 'at']).where('seq', '=', live[0]!).executeTakeFirstOrThrow();
    const key = (await platform.audit.publicKeys())[0]!;
    const raw = async (text: string) => sql.raw(text).execute(db());
    await sql`create table audit_copy as select * from audit_events where seq = ${row.seq}`.execute(db());
    try {
      await sql`insert into audit_archives (first_seq, last_seq, first_prev_hash, last_hash, events, first_at, last_at, cut_off, content_sha256, file_sha256, file_name, key_id, signature, archived_at, archived_by)
        values (${anchor.lastSeq + 1}, ${row.seq}, ${anchor.lastHash}, ${row.hash}, ${row.seq - anchor.lastSeq}, ${row.at.toISOString()}::timestamptz, ${row.at.toISOString()}::timestamptz,
          now(), ${'0'.repeat(64)}, ${'0'.repeat(64)}, 'forged', ${key.id}, 'AAAA', now(), 'intruder')`.execute(db());
      await sql`delete from audit_events where seq = ${row.seq}`.execute(db());
      expect(await platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: anchor.lastSeq + 1, problem: expect.stringMatching(/archive record .* does not verify/) });
    } finally {
      await raw('alter table audit_archives disable trigger audit_archives_no_update');
      await raw("delete from audit_archives where archived_by = 'intruder'");
      await raw('alter table audit_archives enable trigger audit_archives_no_update');
      await raw('insert into audit_events overriding system value select * from audit_copy on conflict do nothing');
      await raw('drop table audit_copy');
    }
    expect(await seqs()).toEqual(live);
    expect((await platform.audit.verify()).ok).toBe(true);
  });

  it('never overwrites a file, and changes nothing when it cannot write', async () => {
    writeFileSync(file('taken.ndjson'), 'mine\n');
    const before = await seqs();
    await expect(platform.audit.archive(cli, { before: daysAgo(190), out: file('taken.ndjson') })).rejects.toMatchObject({ code: 'GS_ERR_AUDIT_ARCHIVE_FILE' });
    expect(readFileSync(file('taken.ndjson'), 'utf8')).toBe('mine\n');
    expect(await seqs()).toEqual(before);
  });

  it('reports nothing to archive when no event is old enough', async () => {
    const r = await platform.audit.archive(cli, { before: daysAgo(400), out: file('none.ndjson') });
    expect(r).toMatchObject({ archived: false });
    expect(existsSync(file('none.ndjson'))).toBe(false);
  });

  it('a second archive continues the first; the files verify offline one by one and as a series', async () => {
    const second = file('audit-2.ndjson');
    const r = await platform.audit.archive(cli, { before: daysAgo(190), out: second });
    expect(r).toMatchObject({ archived: true, firstSeq: firstLast + 1 });
    const report = await platform.audit.verify();
    expect(report).toMatchObject({ ok: true, archives: { count: 2 } });
    const a = await verifyArchiveFile(first);
    const b = await verifyArchiveFile(second);
    expect(b).toMatchObject({ ok: true, firstSeq: firstLast + 1 });
    expect(archiveSeriesProblem([b, a])).toBeNull();
    // Pinned to the platform's published key.
    const keys = await platform.audit.publicKeys();
    expect(await verifyArchiveFile(second, { publicKeys: keys.map((k) => k.publicKey) })).toMatchObject({ ok: true, pinned: true });
    expect(await verifyArchiveFile(second, { publicKeys: [generateSigningKey().publicKeyPem] })).toMatchObject({ ok: false, problem: expect.stringMatching(/not the pinned public key/) });
  });

  it('a series with a gap between archives fails', async () => {
    const a = await verifyArchiveFile(first);
    expect(archiveSeriesProblem([a, { ...a, file: 'later.ndjson', firstSeq: a.lastSeq! + 5, lastSeq: a.lastSeq! + 9 }])).toMatchObject({ firstBadSeq: a.lastSeq! + 1 });
  });
});

describe('a tampered archive file is caught, naming the line and sequence', () => {
  const copy = (name: string, edit: (lines: string[]) => string[]): string => writeLines(file(name), edit(linesOf(file('audit-1.ndjson'))));
  /** Line 1 is the header; event seq n is on the first line whose JSON has that seq. */
  const lineOf = (lines: readonly string[], seq: number): number => lines.findIndex((l) => l.startsWith('{"type":"event"') && (JSON.parse(l) as { seq: number }).seq === seq);

  it('a changed event', async () => {
    const path = copy('changed.ndjson', (lines) => {
      const i = lineOf(lines, 7);
      lines[i] = lines[i]!.replace('"action":"', '"action":"x');
      return lines;
    });
    const i = lineOf(linesOf(path), 7);
    expect(await verifyArchiveFile(path)).toMatchObject({ ok: false, firstBadSeq: 7, firstBadLine: i + 1, problem: expect.stringMatching(/content was changed/) });
  });

  it('a changed event whose hash and the following links were recomputed (only the file signature can tell)', async () => {
    const path = copy('forged.ndjson', (lines) => {
      let prev: string | null = null;
      return lines.map((l) => {
        const v = JSON.parse(l) as { type: string } & ChainedEvent & { hash: string };
        if (v.type !== 'event') return l;
        const e = { ...v, action: v.seq === 3 ? 'test.forged' : v.action, prevHash: prev ?? v.prevHash };
        const hash = eventHash(e);
        prev = hash;
        return JSON.stringify({ ...e, hash });
      });
    });
    const r = await verifyArchiveFile(path);
    // The first checkpoint no longer matches its event (or, with none, the signature line fails).
    expect(r.ok).toBe(false);
    expect(r.problem).toMatch(/checkpoint \d+ signs another hash|not the ones it signed/);
  });

  it('a removed line', async () => {
    const path = copy('removed.ndjson', (lines) => lines.filter((_, i) => i !== lineOf(lines, 5)));
    expect(await verifyArchiveFile(path)).toMatchObject({ ok: false, firstBadSeq: 5, problem: expect.stringMatching(/event 5 is missing/) });
  });

  it('reordered lines', async () => {
    const path = copy('reordered.ndjson', (lines) => {
      const i = lineOf(lines, 4);
      const j = lineOf(lines, 5);
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      return lines;
    });
    expect(await verifyArchiveFile(path)).toMatchObject({ ok: false, firstBadSeq: 4, firstBadLine: lineOf(linesOf(path), 5) + 1 });
  });

  it('a bad file signature', async () => {
    const path = copy('badsig.ndjson', (lines) => {
      const s = JSON.parse(lines.at(-1)!) as { signature: string };
      const sig = Buffer.from(s.signature, 'base64');
      sig[sig.length - 1]! ^= 1;
      lines[lines.length - 1] = JSON.stringify({ ...s, signature: sig.toString('base64') });
      return lines;
    });
    const r = await verifyArchiveFile(path);
    expect(r).toMatchObject({ ok: false, firstBadLine: linesOf(path).length, problem: expect.stringMatching(/signature of the file does not verify/) });
  });

  it('a truncated file: without its signature line, or cut inside a line', async () => {
    const noTrailer = copy('cut.ndjson', (lines) => lines.slice(0, -4));
    const r = await verifyArchiveFile(noTrailer);
    expect(r).toMatchObject({ ok: false, problem: expect.stringMatching(/without its signature line/) });
    expect(r.firstBadSeq).toBeGreaterThan(1);

    const text = readFileSync(file('audit-1.ndjson'), 'utf8');
    writeFileSync(file('cut-mid.ndjson'), text.slice(0, Math.floor(text.length / 2)));
    expect(await verifyArchiveFile(file('cut-mid.ndjson'))).toMatchObject({ ok: false, problem: expect.stringMatching(/cut short/) });
  });

  it('a line added after the signature, and an empty file', async () => {
    const path = copy('extra.ndjson', (lines) => [...lines, lines[1]!]);
    expect(await verifyArchiveFile(path)).toMatchObject({ ok: false, firstBadLine: linesOf(path).length, problem: expect.stringMatching(/after its signature line/) });
    writeFileSync(file('empty.ndjson'), '');
    expect(await verifyArchiveFile(file('empty.ndjson'))).toMatchObject({ ok: false, problem: expect.stringMatching(/empty/) });
  });
});

describe('the live chain with archives', () => {
  it('events deleted after the archive without an archive record are missing events', async () => {
    const first = (await seqs())[0]!;
    await tampered(platform, [`delete from audit_events where seq between ${first} and ${first + 2}`], async () => {
      expect(await platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: first, problem: expect.stringMatching(new RegExp(`event ${first} is missing`)) });
    });
  });

  it('an archived event put back into the table is reported', async () => {
    const first = (await seqs())[0]!;
    await tampered(platform, [`insert into audit_events (seq, actor_type, actor_name, action, outcome, details, hash_alg, prev_hash, hash) values (1, 'system', 'x', 'x.y', 'success', '{}', 'sha256', '${'0'.repeat(64)}', '${'a'.repeat(64)}')`], async () => {
      expect(await platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 1, problem: expect.stringMatching(/still in the database/) });
    });
    expect((await seqs())[0]).toBe(first);
  });

  it('verifies the same fast (with and without threads) as the reference walk, tampered or not', async () => {
    const { AuditService } = await import('./service.js');
    const service = (verifyThreads: number, verifyMethod: 'fast' | 'reference' = 'fast') =>
      // On the server the fast walk reads rows through binary COPY (checkRows), as the platform's does.
      new AuditService(db(), { keys: platform.keys, hashAlgorithm: 'sha256', checkpointEvents: 10, now, verifyThreads, verifyMethod, copyOutStream: platform.database.copyOutStream });
    const reference = await service(0, 'reference').verify();
    expect(reference.ok).toBe(true);
    for (const threads of [0, 1, 2]) expect(await service(threads).verify()).toEqual(reference);
    const live = await seqs();
    const scenarios = [
      `update audit_events set details = '{"i": 999}' where seq = ${live[3]}`,
      `update audit_events set prev_hash = 'x' where seq = ${live[4]}`,
      [`update audit_events set seq = 1000000 where seq = ${live[2]}`, `update audit_events set seq = ${live[2]} where seq = ${live[3]}`, `update audit_events set seq = ${live[3]} where seq = 1000000`],
      `delete from audit_events where seq = ${live[5]}`,
      `update audit_events set actor_name = E'tab\there "and" back\\slash' where seq = ${live[1]}`,
    ];
    for (const scenario of scenarios) {
      const statements = typeof scenario === 'string' ? [scenario] : scenario;
      await tampered(platform, statements, async () => {
        const expected = await service(0, 'reference').verify();
        expect(expected.ok).toBe(false);
        for (const threads of [0, 2]) expect(await service(threads).verify(), statements.join('; ')).toEqual(expected);
      });
    }
  });
});
