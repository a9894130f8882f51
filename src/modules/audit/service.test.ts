import { hash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../db/database.js';
import { loadMigrations, migrate } from '../../db/migrate.js';
import { createServerDatabaseUrl } from '../../db/test-database.js';
import { exitCodeFor, EXIT } from '../../cli/exit-codes.js';
import { GsError } from '../../lib/errors.js';
import { loadConfig } from '../../server/config.js';
import { runAdminOperation } from '../../server/admin-operations.js';
import { Platform } from '../../server/platform.js';
import { startServer } from '../../server/start.js';
import { KeyRing } from '../keys/key-ring.js';
import { agencyInput, createTestPlatform, refused, userWithRoles, type TestPlatform } from '../../../test/helpers/platform.js';
import { canonicalJson, eventHash, generateSigningKey, GENESIS_HASH, SIGNING_ALGORITHM } from './chain.js';
import { AuditService } from './service.js';
import { APPEND_AT_ONCE, AuditStore } from './store.js';
import { tampered } from './test-tampering.js';
import { randomJson } from './test-json.js';
import { canonicalJsonbText, checkAnyPage, checkPage, jsonbBytesValue, jsonbKeyOrder } from './verify-hashing.js';

/** Small, so checkpoints happen within a test. */
const CHECKPOINT_EVERY = 10;

let t: TestPlatform;

beforeAll(async () => {
  t = await createTestPlatform({ auditCheckpointEvents: CHECKPOINT_EVERY });
});

afterAll(async () => {
  await t?.close();
});

const db = () => t.platform.db;

async function seqs(): Promise<number[]> {
  return (await db().selectFrom('auditEvents').select('seq').orderBy('seq').execute()).map((r) => r.seq);
}

async function fill(n: number): Promise<void> {
  await t.platform.audit.recordMany(t.cli, Array.from({ length: n }, (_, i) => ({ action: 'test.fill', targetType: 'test', targetId: String(i), details: { i, text: '审计' } })));
}

describe('hash chain', () => {
  it('gives every event the next sequence number and links it to the one before', async () => {
    await t.platform.agencies.create(t.cli, agencyInput(1));
    await fill(25);
    // Text that array and JSON encodings must carry unchanged.
    const odd = 'NULL {a,b} "q" \\ back\\slash, comma \n 审计 😀';
    const [id] = await t.platform.audit.recordMany({ ...t.cli, requestId: odd, ip: '::1' }, [{ action: 'test.odd', targetType: odd, targetId: 'NULL', details: { [odd]: odd, n: 1.5, none: null } }]);
    const stored = await db().selectFrom('auditEvents').selectAll().where('id', '=', id!).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ requestId: odd, targetType: odd, targetId: 'NULL', details: { [odd]: odd, n: 1.5, none: null } });
    const all = await seqs();
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    const first = await db().selectFrom('auditEvents').select(['prevHash', 'hash', 'hashAlg']).where('seq', '=', 1).executeTakeFirstOrThrow();
    expect(first).toMatchObject({ prevHash: GENESIS_HASH, hashAlg: 'sha256' });
    const second = await db().selectFrom('auditEvents').select('prevHash').where('seq', '=', 2).executeTakeFirstOrThrow();
    expect(second.prevHash).toBe(first.hash);
    const report = await t.platform.audit.verify();
    expect(report).toMatchObject({ ok: true, events: all.length, lastSeq: all.length, firstBadSeq: null });
  });

  it('appends a batch of several insert chunks in order: ids returned in event order, seq contiguous, each event linked to the one before', async () => {
    const before = (await seqs()).at(-1) ?? 0;
    const n = 777; // four chunks, the last one partial
    const ids = await t.platform.audit.recordMany(t.cli, Array.from({ length: n }, (_, i) => ({ action: 'test.chunked', targetType: 'test', targetId: `c-${i}`, details: { i } })));
    expect(ids).toHaveLength(n);
    const rows = await db().selectFrom('auditEvents').select(['id', 'seq', 'targetId', 'prevHash', 'hash']).where('seq', '>', before).orderBy('seq').execute();
    expect(rows.map((r) => r.id)).toEqual(ids);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: n }, (_, i) => before + 1 + i));
    expect(rows.map((r) => r.targetId)).toEqual(Array.from({ length: n }, (_, i) => `c-${i}`));
    for (let i = 1; i < n; i++) expect(rows[i]!.prevHash).toBe(rows[i - 1]!.hash);
    expect(await t.platform.audit.verify()).toMatchObject({ ok: true, lastSeq: before + n });
  });

  it('fails the whole append when a later chunk fails in the database, keeping none of it', async () => {
    const before = await seqs();
    const store = new AuditStore(db());
    const at = new Date();
    const row = (i: number) => ({
      at, actorType: 'user', actorId: i === 600 ? 'not-a-uuid' : null, actorAgencyId: null, actorName: 'test', action: 'test.half',
      targetType: null, targetId: `h-${i}`, outcome: 'success', requestId: null, ip: null, details: { i },
    });
    // Event 600 is in the third chunk: two chunks are inserted before its INSERT fails.
    await expect(
      db().transaction().execute(async (trx) => {
        await store.lock(trx);
        const head = await store.head(trx, 'sha256');
        await store.append(trx, Array.from({ length: 700 }, (_, i) => row(i)), 'sha256', head);
      }),
    ).rejects.toThrow(/uuid/);
    expect(await seqs()).toEqual(before);
    expect(await t.platform.audit.verify()).toMatchObject({ ok: true, lastSeq: before.at(-1) });
  });

  it('reads events for verification so that the fast path reproduces every stored hash, odd text included (PostgreSQL JSON escapes = JSON.stringify)', async () => {
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('');
    const odd = `${controls} \u007f \u2028\u2029 "\\/ ' é 审计 😀 \ufeff`;
    await t.platform.audit.recordMany({ ...t.cli, requestId: odd, ip: odd }, [{ action: 'test.escapes', targetType: odd, targetId: odd, details: { [odd]: [odd, 1e21, 0.1, -0, null, true] } }]);
    const reference = await new AuditStore(db()).readChain(db(), 0, 100_000);
    const digest = (alg: string, data: Uint8Array) => hash(alg, data, 'hex');
    const wanted = reference.map((x) => x.seq);
    // As lines of text (PGlite's way) and, on the server, as rows through binary COPY.
    const text = await new AuditStore(db()).readVerifyPage(db(), 0, reference.length);
    expect(text.events).toBe(reference.length);
    const results = [checkPage(text.bytes, 1, wanted, canonicalJson, canonicalJsonbText, digest)];
    const stream = t.platform.database.copyOutStream;
    if (stream) {
      const rows = await new AuditStore(db(), stream).readVerifyRows(0, reference.length);
      results.push(checkAnyPage(rows, 1, wanted, 'rows'));
    }
    for (const r of results) {
      expect(r.failure).toBeNull();
      expect(r.checked).toBe(reference.length);
      // The hashes read back are the stored ones, which the field-by-field serialisation reproduces.
      for (const ref of reference) {
        expect(r.hashes[ref.seq]).toBe(ref.hash);
        expect(eventHash({ ...ref, at: ref.atText, hashAlg: 'sha256', prevHash: ref.prevHash! })).toBe(ref.hash);
      }
    }
  });

  it.runIf(process.env.DATABASE_URL)('reads rows for verification whose serialisation written from bytes is the reference one: timestamps of every kind, nulls, odd text, sm3 (PostgreSQL)', async () => {
    // A chain of its own in a scratch table of the same shape: every row's hash computed the reference way.
    await sql`create temporary table verify_rows (like audit_events)`.execute(db());
    const stamps = ['0001-01-01 00:00:00+00', '0999-12-31 23:59:59.999999+00', '1969-12-31 23:59:59.5+00', '1999-12-31 23:59:59.999999+00', '2000-01-01 00:00:00+00',
      '2000-02-29 12:34:56.000001+00', '2026-12-02 02:01:08.123456+00', '9999-12-31 23:59:59.999999+00'];
    const controls = Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join('');
    const odd = `${controls} \u007f "\\/ é 审计 😀`;
    const stream = t.platform.database.copyOutStream;
    try {
      let prev = GENESIS_HASH;
      for (let i = 0; i < stamps.length * 2; i++) {
        const alg = i % 3 === 2 ? 'sm3' : 'sha256';
        const nulls = i % 2 === 1;
        const details = i % 4 === 0 ? { z: 1, a: [odd, { 'ｆ': 2, b: 0.5, a: -0 }], 审计: 1e21 } : i % 4 === 1 ? { 'key\\': 'v' } : i % 4 === 2 ? { '\ue000': 1, '😀': 2 } : i === 3 ? {} : { fields: ['nameZh', 'contacts'], n: i, note: '基准测试', nested: { b: [1.5, 1e21], a: { '10': 1, '2': 2 } } };
        await sql`insert into verify_rows (id, seq, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome, request_id, ip, details, hash_alg, prev_hash, hash)
          values (${i + 1}, ${i + 1}, ${stamps[i % stamps.length]!}::timestamptz, 'user', ${nulls ? null : '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'}::uuid, ${nulls ? null : 'ABCDEF01-2345-6789-abcd-ef0123456789'}::uuid,
            ${i % 3 === 0 ? odd : 'bench.user'}, 'x.y', ${nulls ? null : odd}, ${nulls ? null : 't'}, 'success', ${nulls ? null : 'r'}, ${nulls ? null : '10.0.0.1'}, ${JSON.stringify(details)}::jsonb, ${alg}, ${prev}, '')`.execute(db());
        const [row] = (await sql<{ seq: number; hashAlg: 'sha256' | 'sm3'; atText: string; actorType: string; actorId: string | null; actorAgencyId: string | null; actorName: string; action: string; targetType: string | null; targetId: string | null; outcome: string; requestId: string | null; ip: string | null; details: unknown }>`select seq, hash_alg as "hashAlg",
            pg_catalog.to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as "atText", actor_type as "actorType", actor_id as "actorId", actor_agency_id as "actorAgencyId",
            actor_name as "actorName", action, target_type as "targetType", target_id as "targetId", outcome, request_id as "requestId", ip, details from verify_rows where seq = ${i + 1}`.execute(db().withoutPlugins())).rows;
        const h = eventHash({ ...row!, at: row!.atText, prevHash: prev });
        await sql`update verify_rows set hash = ${h} where seq = ${i + 1}`.execute(db());
        prev = h;
      }
      const rows = await sql<{ seq: number; hash: string }>`select seq, hash from verify_rows order by seq`.execute(db());
      // The same rows the way readVerifyRows reads them (its columns, from the scratch table).
      const columns = `seq, hash_alg, hash, prev_hash, at, actor_type, actor_id, actor_agency_id, actor_name, action, target_type, target_id, outcome, request_id, ip, details::pg_catalog.text`;
      const page = await stream!(`select ${columns} from verify_rows where seq > 0 order by seq limit 100`);
      const r = checkAnyPage(page, 1, rows.rows.map((x) => x.seq), 'rows');
      expect(r.failure).toBeNull();
      expect(r.checked).toBe(rows.rows.length);
      for (const x of rows.rows) expect(r.hashes[x.seq]).toBe(x.hash);
      expect(r.lastHash).toBe(prev);
      // Any change to a hashed column is a failure at that event.
      await sql`update verify_rows set at = at + interval '1 microsecond' where seq = 3`.execute(db());
      const changed = checkAnyPage(await stream!(`select ${columns} from verify_rows where seq > 0 order by seq limit 100`), 1, [], 'rows');
      expect(changed.failure).toEqual({ seq: 3, kind: 'hash' });
      expect(changed.checked).toBe(2);
    } finally {
      await sql`drop table verify_rows`.execute(db());
    }
  });

  it('writes details canonically straight from their jsonb bytes, exactly as parsing them would, or declines', async () => {
    const values = Array.from({ length: 1500 }, (_, i) => JSON.stringify(randomJson(i + 1)));
    values.push(JSON.stringify({ fields: ['nameZh', 'contacts'], n: 17, note: '基准测试', nested: { b: [1.5, -0.25, 1e21], a: { '10': 1, '2': 2, 'ｆ': 'é' } } }));
    values.push(JSON.stringify({ '\ue000': 1, '😀': 2 }), '[]', '{}', '-0', '12345678901234567890', '0.1', '"审计"', 'true');
    const r = await sql<{ text: string }>`select (v::jsonb)::text as text from unnest(${values}::text[]) with ordinality as u(v, i) order by i`.execute(db());
    let fast = 0;
    const out = Buffer.alloc(1 << 20);
    const tmp = Buffer.alloc(1 << 20);
    for (const { text } of r.rows) {
      const expected = canonicalJson(JSON.parse(text));
      const src = Buffer.from(`..${text}..`, 'utf8');
      const at = [2];
      const end = src.length - 2;
      if (text.includes('\\')) continue;
      const n = jsonbBytesValue(src, at, end, out, 5, tmp, jsonbKeyOrder);
      if (n >= 0 && at[0] === end) {
        fast++;
        expect(out.toString('utf8', 5, n), text).toBe(expected);
      }
    }
    expect(fast).toBeGreaterThan(r.rows.length / 3);
  });

  it('writes details canonically straight from their jsonb text, exactly as parsing them would, or declines', async () => {
    const values = Array.from({ length: 1500 }, (_, i) => JSON.stringify(randomJson(i + 1)));
    values.push(JSON.stringify({ fields: ['nameZh', 'contacts'], n: 17, note: '基准测试', nested: { b: [1.5, -0.25, 1e21], a: { '10': 1, '2': 2, 'ｆ': 'é' } } }));
    const r = await sql<{ text: string }>`select (v::jsonb)::text as text from unnest(${values}::text[]) with ordinality as u(v, i) order by i`.execute(db());
    let fast = 0;
    for (const { text } of r.rows) {
      const expected = canonicalJson(JSON.parse(text));
      const written = canonicalJsonbText(text);
      if (written !== null) {
        fast++;
        expect(written, text).toBe(expected);
      }
    }
    // Most values have no backslash in their jsonb text and take the direct way; the test covers it.
    expect(fast).toBeGreaterThan(r.rows.length / 3);
    expect(canonicalJsonbText(r.rows.at(-1)!.text)).toBe(canonicalJson(JSON.parse(values.at(-1)!)));
  });

  it('records text PostgreSQL cannot keep as given (NUL, lone surrogates) as U+FFFD, and the chain still verifies', async () => {
    const hostile = `a\u0000b\ud800c\udc00d`;
    await t.platform.audit.record({ ...t.cli, actor: { ...t.cli.actor, name: hostile }, requestId: hostile }, { action: 'test.hostile-text', targetId: hostile, details: { [hostile]: [hostile] } });
    const [event] = await t.platform.audit.search({ action: 'test.hostile-text', limit: 1, order: 'newest' });
    expect(event?.actorName).toBe('a\ufffdb\ufffdc\ufffdd');
    expect(event?.details).toEqual({ 'a\ufffdb\ufffdc\ufffdd': ['a\ufffdb\ufffdc\ufffdd'] });
    expect((await t.platform.audit.verify()).ok).toBe(true);
  });

  it('keeps an event inside the caller’s transaction: rolled back together, chain intact', async () => {
    const before = await seqs();
    await expect(
      db()
        .transaction()
        .execute(async (trx) => {
          await t.platform.audit.record(t.cli, { action: 'test.rolled-back' }, trx);
          throw new Error('abort');
        }),
    ).rejects.toThrow('abort');
    expect(await seqs()).toEqual(before);
    await t.platform.audit.record(t.cli, { action: 'test.after-rollback' });
    expect((await seqs()).at(-1)).toBe(before.length + 1);
    expect((await t.platform.audit.verify()).ok).toBe(true);
  });

  it('group commit: concurrent recordGrouped calls share appends, each resolves with its own committed event, the chain verifies', async () => {
    const before = (await seqs()).length;
    const ctx = (i: number) => ({ ...t.cli, requestId: `group-${i}` });
    const ids = await Promise.all(Array.from({ length: 120 }, (_, i) => t.platform.audit.recordGrouped(ctx(i), { action: 'test.group', targetType: 'test', targetId: String(i), details: { i } })));
    expect(new Set(ids).size).toBe(120);
    const rows = await db().selectFrom('auditEvents').select(['id', 'requestId', 'targetId', 'seq']).where('action', '=', 'test.group').orderBy('seq').execute();
    expect(rows).toHaveLength(120);
    // Each caller got the id of its own event, and events keep the order of the calls.
    for (const [i, id] of ids.entries()) expect(rows.find((r) => r.id === id)).toMatchObject({ requestId: `group-${i}`, targetId: String(i) });
    expect(rows.map((r) => Number(r.targetId))).toEqual(Array.from({ length: 120 }, (_, i) => i));
    // A handful of transactions (xmin: the inserting one), not 120: the calls of one tick share appends.
    const transactions = await sql<{ n: number }>`select count(distinct xmin::text)::int as n from audit_events where action = 'test.group'`.execute(db());
    expect(transactions.rows[0]!.n).toBeLessThanOrEqual(5);
    expect((await seqs()).length).toBe(before + 120);
    expect((await t.platform.audit.verify()).ok).toBe(true);
    // A bad event is refused to its caller alone, before it joins a batch.
    const [bad, good] = await Promise.allSettled([t.platform.audit.recordGrouped(t.cli, { action: 'test.Bad' }), t.platform.audit.recordGrouped(t.cli, { action: 'test.group-after' })]);
    expect(bad.status).toBe('rejected');
    expect(good.status).toBe('fulfilled');
  });

  it('appends after the head this process knows in one statement, and after another writer’s events when the chain moved on', async () => {
    // A second writer on the same database, as another server would be (its own known head).
    const other = new AuditService(db(), { keys: t.platform.keys, hashAlgorithm: 'sha256', checkpointEvents: CHECKPOINT_EVERY, now: () => new Date() });
    const before = (await seqs()).length;
    const names: string[] = [];
    const write = async (writer: AuditService, name: string, kind: number): Promise<void> => {
      if (kind === 0) await writer.record(t.cli, { action: 'test.interleaved', targetId: name });
      else if (kind === 1) await Promise.all([0, 1, 2].map((j) => writer.recordGrouped(t.cli, { action: 'test.interleaved', targetId: `${name}.${j}` })));
      // More than one statement takes: the locked append.
      else await writer.recordMany(t.cli, Array.from({ length: APPEND_AT_ONCE + 5 }, (_, j) => ({ action: 'test.interleaved', targetId: `${name}.${j}` })));
      names.push(...(kind === 0 ? [name] : Array.from({ length: kind === 1 ? 3 : APPEND_AT_ONCE + 5 }, (_, j) => `${name}.${j}`)));
    };
    for (let i = 0; i < 12; i++) {
      await write(t.platform.audit, `a${i}`, i % 3);
      await write(other, `b${i}`, (i + 1) % 3);
      // Twice in a row by one writer: its known head is the last event.
      if (i % 4 === 0) await write(other, `c${i}`, 0);
    }
    const rows = await db().selectFrom('auditEvents').select(['seq', 'targetId']).where('action', '=', 'test.interleaved').orderBy('seq').execute();
    expect(rows.map((r) => r.targetId)).toEqual(names);
    const all = await seqs();
    expect(all).toEqual(Array.from({ length: all.length }, (_, i) => i + 1));
    expect(all.length).toBe(before + names.length);
    const report = await t.platform.audit.verify();
    expect(report).toMatchObject({ ok: true, lastSeq: all.length });
    // Checkpoints still fall due inside appends: none more than N events behind the head.
    const last = await db().selectFrom('auditCheckpoints').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
    expect(all.length - last.seq).toBeLessThan(CHECKPOINT_EVERY);
  });

  it('refuses an action id that is not kebab-case', async () => {
    await expect(t.platform.audit.record(t.cli, { action: 'user.setRoles' })).rejects.toThrow(/kebab-case/);
  });

  it('signs a checkpoint every N events, verifiable with the stored public key', async () => {
    const head = (await seqs()).at(-1)!;
    const cps = await db().selectFrom('auditCheckpoints').selectAll().orderBy('seq').execute();
    // A batch that passes a multiple of N is signed at its end: fewer than N events stay unsigned.
    const last = cps.at(-1)!;
    expect(head - last.seq).toBeLessThan(CHECKPOINT_EVERY);
    const event = await db().selectFrom('auditEvents').select('hash').where('seq', '=', last.seq).executeTakeFirstOrThrow();
    expect(last.hash).toBe(event.hash);
    // The timer's checkpoint: signs the head when there are newer events, and only then.
    await t.platform.audit.record(t.cli, { action: 'test.tail' });
    // An event at a multiple of N is signed by its own append: one more is left for the timer.
    if ((await seqs()).at(-1)! % CHECKPOINT_EVERY === 0) await t.platform.audit.record(t.cli, { action: 'test.tail' });
    const made = await t.platform.audit.checkpoint();
    expect(made?.seq).toBe((await seqs()).at(-1));
    expect(await t.platform.audit.checkpoint()).toBeNull();
    const key = await db().selectFrom('auditSigningKeys').selectAll().executeTakeFirstOrThrow();
    expect(key.publicKey).toContain('BEGIN PUBLIC KEY');
    expect(key.privateKeySealed).toMatch(/^gsk1\./);
  });

  it('refuses UPDATE, DELETE and TRUNCATE of events and checkpoints from the application', async () => {
    await expect(db().updateTable('auditEvents').set({ action: 'x.y' }).where('seq', '=', 1).execute()).rejects.toThrow(/append-only/);
    await expect(db().deleteFrom('auditEvents').where('seq', '=', 1).execute()).rejects.toThrow(/append-only/);
    await expect(db().deleteFrom('auditCheckpoints').execute()).rejects.toThrow(/append-only/);
    await expect(db().updateTable('auditSigningKeys').set({ publicKey: 'x' }).execute()).rejects.toThrow(/append-only/);
  });
});

describe('verification catches tampering', () => {
  beforeAll(async () => {
    await fill(40);
    await t.platform.audit.checkpoint();
  });

  it('a modified event', async () => {
    await tampered(t.platform, [`update audit_events set details = '{"i": 999}' where seq = 7`], async () => {
      expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 7, problem: expect.stringMatching(/content was changed/) });
    });
  });

  it('a modified event whose hash was recomputed (the link to the next one breaks)', async () => {
    const row = await t.platform.audit.verify();
    expect(row.ok).toBe(true);
    const r = await db().selectFrom('auditEvents').selectAll().where('seq', '=', 9).executeTakeFirstOrThrow();
    const atText = (await sql<{ t: string }>`select to_char(at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t from audit_events where seq = 9`.execute(db())).rows[0]!.t;
    const forged = eventHash({ ...r, hashAlg: 'sha256', at: atText, prevHash: r.prevHash!, action: 'test.forged' });
    await tampered(t.platform, [`update audit_events set action = 'test.forged', hash = '${forged}' where seq = 9`], async () => {
      expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 10, problem: expect.stringMatching(/does not link/) });
    });
  });

  it('a deleted event', async () => {
    await tampered(t.platform, ['delete from audit_events where seq = 12'], async () => {
      expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 12, problem: expect.stringMatching(/missing/) });
    });
  });

  it('two swapped events', async () => {
    await tampered(t.platform, 
      ['update audit_events set seq = 1000000 where seq = 15', 'update audit_events set seq = 15 where seq = 16', 'update audit_events set seq = 16 where seq = 1000000'],
      async () => {
        expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 15 });
      },
    );
  });

  it('an inserted event', async () => {
    const n = (await seqs()).length;
    await tampered(t.platform, 
      [
        `update audit_events set seq = seq + 1000000 where seq >= 20`,
        `update audit_events set seq = seq - 999999 where seq > 1000000`,
        `insert into audit_events (seq, actor_type, actor_name, action, outcome, details, hash_alg, prev_hash, hash)
           select 20, 'system', 'govshare', 'test.inserted', 'success', '{}', 'sha256', hash, repeat('a', 64) from audit_events where seq = 19`,
      ],
      async () => {
        expect(await seqs()).toHaveLength(n + 1);
        expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: 20 });
      },
    );
  });

  it('a tail truncated after the last checkpoint was signed', async () => {
    const last = (await t.platform.audit.lastCheckpoint())!;
    await tampered(t.platform, [`delete from audit_events where seq > ${last.seq - 3}`], async () => {
      const r = await t.platform.audit.verify();
      expect(r).toMatchObject({ ok: false, firstBadSeq: last.seq - 2, problem: expect.stringMatching(/truncated/) });
    });
  });

  it('a forged checkpoint signature', async () => {
    const last = (await t.platform.audit.lastCheckpoint())!;
    await sql.raw('alter table audit_checkpoints disable trigger audit_checkpoints_no_update').execute(db());
    const original = await db().selectFrom('auditCheckpoints').select('signature').where('seq', '=', last.seq).executeTakeFirstOrThrow();
    try {
      await db().updateTable('auditCheckpoints').set({ signature: Buffer.alloc(64, 1).toString('base64') }).where('seq', '=', last.seq).execute();
      expect(await t.platform.audit.verify()).toMatchObject({ ok: false, firstBadSeq: last.seq, problem: expect.stringMatching(/signature/) });
    } finally {
      await db().updateTable('auditCheckpoints').set({ signature: original.signature }).where('seq', '=', last.seq).execute();
      await sql.raw('alter table audit_checkpoints enable trigger audit_checkpoints_no_update').execute(db());
    }
    expect((await t.platform.audit.verify()).ok).toBe(true);
  });

  it('a signing key the platform did not make (substituted to re-sign checkpoints)', async () => {
    const forged = generateSigningKey();
    const raw = async (text: string) => sql.raw(text).execute(db());
    await db()
      .insertInto('auditSigningKeys')
      .values({ id: forged.id, algorithm: SIGNING_ALGORITHM, publicKey: forged.publicKeyPem, privateKeySealed: KeyRing.ephemeral().seal(forged.privateKeyDer, `audit.signingKey:${forged.id}`) })
      .execute();
    try {
      expect(await t.platform.audit.verify()).toMatchObject({ ok: false, problem: expect.stringMatching(new RegExp(`signing key ${forged.id}`)) });
    } finally {
      await raw('alter table audit_signing_keys disable trigger audit_signing_keys_no_update');
      await db().deleteFrom('auditSigningKeys').where('id', '=', forged.id).execute();
      await raw('alter table audit_signing_keys enable trigger audit_signing_keys_no_update');
    }
    expect((await t.platform.audit.verify()).ok).toBe(true);
  });

  it('govshare audit verify (the admin operation) reports the bad sequence; a broken chain maps to exit 8', async () => {
    await tampered(t.platform, ['delete from audit_events where seq = 5'], async () => {
      const report = (await runAdminOperation(t.platform, 'auditVerify', {}, 'tester')) as { ok: boolean; firstBadSeq: number };
      expect(report).toMatchObject({ ok: false, firstBadSeq: 5 });
      const events = await t.platform.audit.search({ action: 'audit.verify', limit: 5 });
      expect(events[0]).toMatchObject({ outcome: 'failure', details: { firstBadSeq: 5 } });
    });
    expect(exitCodeFor(new GsError('GS_ERR_AUDIT_CHAIN_BROKEN', { seq: 5, problem: 'x' }))).toBe(EXIT.integrity);
  });
});

describe('auditor and agency access', () => {
  it('searches by agency and actor, exports CSV, and lets an agency user read only its own agency', async () => {
    const mine = await t.platform.agencies.create(t.cli, agencyInput(11));
    const other = await t.platform.agencies.create(t.cli, agencyInput(12));
    const viewer = await userWithRoles(t, 'agency-viewer', ['viewer'], mine.id);
    await userWithRoles(t, 'other-viewer', ['viewer'], other.id);
    const auditor = await userWithRoles(t, 'the-auditor', ['auditor']);

    const own = await t.app.inject({ method: 'GET', url: '/api/v1/audit/agency-events?limit=1000', headers: viewer.headers });
    expect(own.statusCode).toBe(200);
    const items = own.json<{ items: { actorAgencyId: string; actorName: string }[] }>().items;
    expect(items.length).toBeGreaterThan(0);
    expect(new Set(items.map((i) => i.actorAgencyId))).toEqual(new Set([mine.id]));

    const byAgency = await t.app.inject({ method: 'GET', url: `/api/v1/audit/events?agencyId=${other.id}&actorName=other-viewer`, headers: auditor.headers });
    expect(byAgency.statusCode).toBe(200);
    const found = byAgency.json<{ items: { actorAgencyId: string; actorName: string; seq: number }[] }>().items;
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((i) => i.actorAgencyId === other.id && i.actorName === 'other-viewer')).toBe(true);

    const csv = await t.app.inject({ method: 'GET', url: `/api/v1/audit/events/export?agencyId=${other.id}`, headers: auditor.headers });
    expect(csv.statusCode).toBe(200);
    expect(csv.headers['content-type']).toMatch(/text\/csv/);
    const lines = csv.body.replace(/^\ufeff/, '').trimEnd().split('\r\n');
    expect(lines[0]).toBe('seq,at,actorType,actorId,actorName,actorAgencyId,action,targetType,targetId,outcome,requestId,ip,details,hash');
    expect(lines).toHaveLength(found.length + 1);
    expect((await t.platform.audit.search({ action: 'audit.export', limit: 1 }))[0]?.details).toMatchObject({ count: found.length });

    const denied = await t.app.inject({ method: 'GET', url: '/api/v1/audit/events', headers: viewer.headers });
    expect(denied.statusCode).toBe(403);
  });

  it('refuses an empty time range with a 400 naming the problem, and an export that would be cut short', async () => {
    const auditor = await userWithRoles(t, 'range-auditor', ['auditor']);
    const r = await t.app.inject({ method: 'GET', url: '/api/v1/audit/events?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z', headers: auditor.headers });
    expect(r.statusCode).toBe(400);
    expect(r.json<{ code: string }>().code).toBe('GS_ERR_AUDIT_RANGE_INVALID');
    await refused(t.platform.audit.exportCsv(t.cli, {}, 3), 'GS_ERR_AUDIT_EXPORT_TOO_LARGE');
  });
});

/** A database at schema version 1 with audit events, then brought to the current version. */
describe('a database from before the hash chain', () => {
  let handle: DatabaseHandle;
  let drop: (() => Promise<void>) | undefined;

  afterAll(async () => {
    await handle?.close();
    await drop?.();
  });

  it('gets its old events chained, in order, at start', async () => {
    const server = await createServerDatabaseUrl();
    drop = server?.drop;
    handle = server ? await openDatabase({ kind: 'postgres', url: server.url, poolSize: 2 }) : await openDatabase({ kind: 'pglite', dir: undefined });
    await migrate(handle.db, loadMigrations().slice(0, 1));
    for (const action of ['legacy.one', 'legacy.two', 'legacy.three']) {
      await sql`insert into audit_events (actor_type, actor_name, action, outcome, details) values ('system', 'govshare', ${action}, 'success', '{"old": true}')`.execute(handle.db);
    }
    await migrate(handle.db);
    const platform = Platform.fromDatabase(handle, loadConfig({ env: {}, overrides: { logLevel: 'silent' } }));
    await platform.bootstrap();
    const rows = await handle.db.selectFrom('auditEvents').select(['seq', 'action', 'hash']).orderBy('seq').execute();
    expect(rows.slice(0, 3).map((r) => r.action)).toEqual(['legacy.one', 'legacy.two', 'legacy.three']);
    expect(rows.every((r) => r.hash !== null)).toBe(true);
    expect(await platform.audit.verify()).toMatchObject({ ok: true, lastSeq: rows.length });
  });
});

describe.runIf(process.env.DATABASE_URL)('several processes on one PostgreSQL', () => {
  it('append concurrently from two connection pools and end with one contiguous, verifying chain', async () => {
    const server = (await createServerDatabaseUrl())!;
    const config = loadConfig({ env: {}, overrides: { logLevel: 'silent', databaseUrl: server.url, auditCheckpointEvents: 50 } });
    const keys = KeyRing.ephemeral();
    const a = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 5 });
    const b = await openDatabase({ kind: 'postgres', url: server.url, poolSize: 5 });
    try {
      await migrate(a.db);
      const one = Platform.fromDatabase(a, config, () => new Date(), keys);
      const two = Platform.fromDatabase(b, config, () => new Date(), keys);
      await one.bootstrap();
      const start = await one.audit.verify();
      const writes = (p: Platform, name: string) =>
        Array.from({ length: 40 }, (_, i) =>
          i % 4 === 0
            ? p.audit.recordMany(t.cli, Array.from({ length: 10 }, (_, j) => ({ action: 'test.batch', targetId: `${name}-${i}-${j}` })))
            : p.audit.record(t.cli, { action: 'test.single', targetId: `${name}-${i}` }),
        );
      await Promise.all([...writes(one, 'a'), ...writes(two, 'b'), one.audit.checkpoint(), two.audit.checkpoint()]);
      const report = await two.audit.verify();
      const expected = start.lastSeq + 2 * (30 + 10 * 10);
      expect(report).toMatchObject({ ok: true, lastSeq: expected, events: expected });
      expect(report.checkpoints).toBeGreaterThanOrEqual(5);
    } finally {
      await a.close();
      await b.close();
      await server.drop();
    }
  });
});

describe.runIf(process.env.DATABASE_URL)('an append in one statement beside a transaction that holds the lock (PostgreSQL)', () => {
  it.each(['commits', 'rolls back'] as const)('waits for the transaction’s uncommitted event, then lands after it or in its place when it %s', async (end) => {
    // Another writer whose known head is current, as another server's would be.
    const other = new AuditService(db(), { keys: t.platform.keys, hashAlgorithm: 'sha256', checkpointEvents: 1_000_000, now: () => new Date() });
    await other.record(t.cli, { action: 'test.beside', targetId: 'known' });
    const head = (await seqs()).at(-1)!;
    let pending: Promise<number> | undefined;
    let settledEarly = false;
    const done = db()
      .transaction()
      .execute(async (trx) => {
        await t.platform.audit.record(t.cli, { action: 'test.beside', targetId: 'in-transaction' }, trx);
        pending = other.record(t.cli, { action: 'test.beside', targetId: 'beside' });
        void pending.then(() => (settledEarly = true), () => (settledEarly = true));
        await new Promise((r) => setTimeout(r, 300));
        if (end === 'rolls back') throw new Error('rolled back');
      });
    if (end === 'rolls back') await expect(done).rejects.toThrow('rolled back');
    else await done;
    // The append waited on the transaction's event (the unique seq) instead of forking the chain.
    expect(settledEarly).toBe(false);
    await pending;
    const rows = await db().selectFrom('auditEvents').select(['seq', 'targetId']).where('seq', '>', head).orderBy('seq').execute();
    expect(rows).toEqual(end === 'commits' ? [{ seq: head + 1, targetId: 'in-transaction' }, { seq: head + 2, targetId: 'beside' }] : [{ seq: head + 1, targetId: 'beside' }]);
    expect(await t.platform.audit.verify()).toMatchObject({ ok: true, lastSeq: rows.at(-1)!.seq });
  });
});

describe('serve', () => {
  it('signs a checkpoint every T seconds when events were added, and once more at shutdown', async () => {
    const freePort = () =>
      new Promise<number>((resolve) => {
        const s = createServer().listen(0, '127.0.0.1', () => {
          const port = (s.address() as { port: number }).port;
          s.close(() => resolve(port));
        });
      });
    const dataDir = mkdtempSync(join(tmpdir(), 'gs-audit-serve-'));
    const server = await createServerDatabaseUrl();
    const config = loadConfig({
      env: {},
      overrides: { dataDir, databaseUrl: server?.url, port: await freePort(), exchangePort: await freePort(), logLevel: 'silent', auditCheckpointSeconds: 1, auditCheckpointEvents: 1_000_000 },
    });
    const running = await startServer(config, pino({ level: 'silent' }));
    try {
      const audit = running.platform.audit;
      await audit.record(t.cli, { action: 'test.timer' });
      const head = async () => (await running.platform.db.selectFrom('auditEvents').select('seq').orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow()).seq;
      const first = await head();
      for (let i = 0; i < 40 && ((await audit.lastCheckpoint())?.seq ?? 0) < first; i++) await new Promise((r) => setTimeout(r, 100));
      expect((await audit.lastCheckpoint())?.seq).toBe(first);
      await audit.record(t.cli, { action: 'test.before-shutdown' });
      const last = await head();
      await running.close();
      // Read the final state through a fresh platform on the same data.
      const reopened = await Platform.open(config, { migrate: false });
      try {
        expect((await reopened.platform.audit.lastCheckpoint())?.seq).toBe(last);
        expect(await reopened.platform.audit.verify()).toMatchObject({ ok: true, unsignedTail: 0 });
      } finally {
        await reopened.platform.close();
      }
    } finally {
      await running.close();
      await server?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
