import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agencyInput, createTestPlatform, refused, type TestPlatform, usccFor } from '../../../test/helpers/platform.js';
import type { AgencyService } from './service.js';
import type { AgencyCreate } from './schemas.js';

let t: TestPlatform;
let agencies: AgencyService;

beforeAll(async () => {
  t = await createTestPlatform();
  agencies = t.platform.agencies;
});
afterAll(async () => t?.close());

/** Agency input with a unique code and USCC; `n` ≥ 100 keeps clear of the fixed ones below. */
function input(n: number, over: Partial<AgencyCreate> = {}): AgencyCreate {
  return { ...agencyInput(n), ...over } as AgencyCreate;
}

async function counts(): Promise<{ agencies: number; history: number; audit: number }> {
  const one = async (table: 'agencies' | 'agencyHistory'): Promise<number> =>
    Number((await t.platform.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
  const audit = Number(
    (await t.platform.db.selectFrom('auditEvents').select((eb) => eb.fn.countAll<number>().as('n')).where('action', 'like', 'agency.%').executeTakeFirstOrThrow()).n,
  );
  return { agencies: await one('agencies'), history: await one('agencyHistory'), audit };
}

// A USCC with letters: body 11430400MB1234567, check character L.
const LETTER_USCC = '11430400MB1234567L';

describe('creating agencies', () => {
  it('stores every field, with names in other languages under normalised tags and contacts', async () => {
    const created = await agencies.create(t.cli, {
      code: 'HY-FGW',
      nameZh: ' 衡阳市发展和改革委员会 ',
      names: { UG: 'خېڭياڭ شەھەرلىك تەرەققىيات ۋە ئىسلاھات كومىتېتى', kk: 'Хэңян қалалық даму және реформа комитеті', 'EN-gb': 'Hengyang Development and Reform Commission' },
      uscc: usccFor(100),
      regionCode: '430400',
      level: 'prefecture',
      contacts: [
        { name: '李明', title: '科长', phone: '0734-8888888', email: 'liming@hy.gov.cn' },
        { name: '张华', phone: '+86 734 1234567' },
      ],
    });
    expect(created).toMatchObject({
      code: 'HY-FGW',
      nameZh: '衡阳市发展和改革委员会',
      name: '衡阳市发展和改革委员会',
      uscc: usccFor(100),
      regionCode: '430400',
      level: 'prefecture',
      parentId: null,
      active: true,
      deactivatedAt: null,
      version: 1,
    });
    expect(created.names).toEqual({
      ug: 'خېڭياڭ شەھەرلىك تەرەققىيات ۋە ئىسلاھات كومىتېتى',
      kk: 'Хэңян қалалық даму және реформа комитеті',
      'en-GB': 'Hengyang Development and Reform Commission',
    });
    expect(created.contacts).toEqual([
      { name: '李明', title: '科长', phone: '0734-8888888', email: 'liming@hy.gov.cn' },
      { name: '张华', phone: '+86 734 1234567' },
    ]);
    expect(await agencies.get(created.id)).toEqual(created);
    expect(await agencies.getByCode('HY-FGW')).toEqual(created);
    const history = await agencies.history(created.id);
    expect(history.map((h) => [h.version, h.change, h.changedBy])).toEqual([[1, 'created', 'cli:test']]);
    const audit = await t.platform.audit.search({ action: 'agency.create', targetId: created.id, limit: 5 });
    expect(audit).toHaveLength(1);
  });

  it('refuses Chinese in names (it belongs in nameZh) and malformed language tags', async () => {
    for (const tag of ['zh', 'zh-Hans', 'ZH-cn', 'cmn', 'not a tag', 'x', 'ug_CN', '']) {
      const e = await refused(agencies.create(t.cli, input(101, { names: { [tag]: '名称' } })), 'GS_ERR_AGENCY_LANGUAGE_TAG');
      expect(e.params.tag).toBe(tag);
      expect(e.fields?.[0]?.field).toBe(`body.names.${tag}`);
    }
    await refused(agencies.getByCode(input(101).code), 'GS_ERR_AGENCY_NOT_FOUND');
  });

  it('normalises a lowercase USCC to uppercase', async () => {
    const a = await agencies.create(t.cli, input(102, { uscc: LETTER_USCC.toLowerCase() }));
    expect(a.uscc).toBe(LETTER_USCC);
  });

  it('refuses a USCC with a wrong check character, naming the expected one', async () => {
    const e = await refused(agencies.create(t.cli, input(103, { uscc: '11430400MB1234567A' })), 'GS_ERR_AGENCY_USCC_INVALID');
    expect(e.message).toContain('expected L');
    expect(e.fields).toEqual([expect.objectContaining({ field: 'body.uscc', rule: 'checkCharacter' })]);
    await refused(agencies.create(t.cli, input(103, { uscc: '11430400MB1234567' })), 'GS_ERR_AGENCY_USCC_INVALID');
    await refused(agencies.create(t.cli, input(103, { uscc: '11430400MB123456IL' })), 'GS_ERR_AGENCY_USCC_INVALID');
  });

  it('refuses a code or USCC that is already used', async () => {
    const first = await agencies.create(t.cli, input(104));
    let e = await refused(agencies.create(t.cli, input(105, { code: first.code })), 'GS_ERR_AGENCY_CODE_TAKEN');
    expect(e.params.code).toBe(first.code);
    e = await refused(agencies.create(t.cli, input(105, { uscc: first.uscc })), 'GS_ERR_AGENCY_USCC_TAKEN');
    expect(e.params.code).toBe(first.code);
    // the same USCC in lowercase is the same USCC
    e = await refused(agencies.create(t.cli, input(105, { uscc: LETTER_USCC.toLowerCase() })), 'GS_ERR_AGENCY_USCC_TAKEN');
    // and an update cannot take another agency's USCC either
    const second = await agencies.create(t.cli, input(105));
    await refused(agencies.update(t.cli, second.id, { uscc: first.uscc }), 'GS_ERR_AGENCY_USCC_TAKEN');
  });

  it('refuses an unknown region', async () => {
    const e = await refused(agencies.create(t.cli, input(106, { regionCode: '999999' })), 'GS_ERR_REGION_NOT_FOUND');
    expect(e.params.code).toBe('999999');
    expect(e.fields?.[0]?.field).toBe('body.regionCode');
  });

  it('refuses a region of another level (a county agency on prefecture 430400)', async () => {
    const e = await refused(agencies.create(t.cli, input(107, { regionCode: '430400', level: 'county' })), 'GS_ERR_AGENCY_REGION_LEVEL');
    expect(e.params).toMatchObject({ regionCode: '430400', regionLevel: 'prefecture', level: 'county' });
    const county = await agencies.create(t.cli, input(107, { regionCode: '430405', level: 'county' }));
    expect(county.regionCode).toBe('430405');
    await refused(agencies.update(t.cli, county.id, { regionCode: '430000' }), 'GS_ERR_AGENCY_REGION_LEVEL');
  });
});

describe('parents', () => {
  it('refuses an unknown or deactivated parent', async () => {
    let e = await refused(agencies.create(t.cli, input(110, { parentId: randomUUID() })), 'GS_ERR_AGENCY_PARENT_INVALID');
    expect(e.fields?.[0]?.field).toBe('body.parentId');
    const old = await agencies.create(t.cli, input(111));
    await agencies.deactivate(t.cli, old.id, 'merged');
    e = await refused(agencies.create(t.cli, input(110, { parentId: old.id })), 'GS_ERR_AGENCY_PARENT_INVALID');
    expect(e.message).toContain('deactivated');
  });

  it('refuses a cycle: A under B, then B under A; and an agency under itself', async () => {
    const b = await agencies.create(t.cli, input(112));
    const a = await agencies.create(t.cli, input(113, { parentId: b.id }));
    expect(a.parentId).toBe(b.id);
    await refused(agencies.update(t.cli, b.id, { parentId: a.id }), 'GS_ERR_AGENCY_PARENT_INVALID');
    await refused(agencies.update(t.cli, b.id, { parentId: b.id }), 'GS_ERR_AGENCY_PARENT_INVALID');
    // a longer loop: C under A, then B under C
    const c = await agencies.create(t.cli, input(114, { parentId: a.id }));
    await refused(agencies.update(t.cli, b.id, { parentId: c.id }), 'GS_ERR_AGENCY_PARENT_INVALID');
    expect((await agencies.get(b.id)).parentId).toBeNull();
    expect((await agencies.get(b.id)).version).toBe(1);
  });
});

describe('updates, deactivation and history', () => {
  it('refuses an update made against a stale version', async () => {
    const a = await agencies.create(t.cli, input(120));
    const v2 = await agencies.update(t.cli, a.id, { nameZh: '新名称', expectedVersion: 1 });
    expect(v2.version).toBe(2);
    const e = await refused(agencies.update(t.cli, a.id, { nameZh: '旧的修改', expectedVersion: 1 }), 'GS_ERR_REQUEST_CONFLICT');
    expect(e.params).toMatchObject({ expected: 1, actual: 2 });
    expect((await agencies.get(a.id)).nameZh).toBe('新名称');
  });

  it('refuses to deactivate an agency with active subordinates', async () => {
    const parent = await agencies.create(t.cli, input(121));
    const child = await agencies.create(t.cli, input(122, { parentId: parent.id }));
    const e = await refused(agencies.deactivate(t.cli, parent.id, 'reorganised'), 'GS_ERR_AGENCY_HAS_ACTIVE_CHILDREN');
    expect(e.params.count).toBe(1);
    await agencies.deactivate(t.cli, child.id, 'reorganised');
    expect((await agencies.deactivate(t.cli, parent.id, 'reorganised')).active).toBe(false);
  });

  it('keeps a deactivated agency readable with its full history, and other modules see it inactive', async () => {
    const a = await agencies.create(t.cli, input(123, { names: { ug: 'ئىدارە' } }));
    await agencies.update(t.cli, a.id, { nameZh: '改名后的单位', contacts: [{ name: '王五' }] });
    const gone = await agencies.deactivate(t.cli, a.id, '机构改革撤销');
    expect(gone).toMatchObject({ active: false, deactivationReason: '机构改革撤销', version: 3 });
    expect(gone.deactivatedAt).not.toBeNull();

    const read = await agencies.get(a.id);
    expect(read).toMatchObject({ active: false, nameZh: '改名后的单位', contacts: [{ name: '王五' }] });

    const history = await agencies.history(a.id);
    expect(history.map((h) => [h.version, h.change])).toEqual([
      [1, 'created'],
      [2, 'updated'],
      [3, 'deactivated'],
    ]);
    const snapshots = history.map((h) => h.snapshot as Record<string, unknown>);
    expect(snapshots[0]).toMatchObject({ id: a.id, nameZh: a.nameZh, version: 1, active: true });
    expect(snapshots[1]).toMatchObject({ nameZh: '改名后的单位', version: 2, active: true, contacts: [{ name: '王五' }] });
    expect(snapshots[2]).toMatchObject({ nameZh: '改名后的单位', version: 3, active: false, deactivationReason: '机构改革撤销' });

    await refused(agencies.requireActive(a.id), 'GS_ERR_AGENCY_INACTIVE');
    await refused(agencies.update(t.cli, a.id, { nameZh: 'x' }), 'GS_ERR_AGENCY_INACTIVE');
    await refused(agencies.deactivate(t.cli, a.id, 'again'), 'GS_ERR_AGENCY_INACTIVE');
    expect((await t.platform.audit.search({ targetId: a.id, limit: 10 })).map((r) => r.action).reverse()).toEqual([
      'agency.create',
      'agency.update',
      'agency.deactivate',
    ]);
  });

  it('reactivates, unless the parent is deactivated', async () => {
    const parent = await agencies.create(t.cli, input(124));
    const child = await agencies.create(t.cli, input(125, { parentId: parent.id }));
    await agencies.deactivate(t.cli, child.id, 'paused');
    await agencies.deactivate(t.cli, parent.id, 'paused');
    await refused(agencies.reactivate(t.cli, child.id, 'back'), 'GS_ERR_AGENCY_PARENT_INVALID');

    const p = await agencies.reactivate(t.cli, parent.id, 'back');
    expect(p).toMatchObject({ active: true, deactivatedAt: null, deactivationReason: null });
    const c = await agencies.reactivate(t.cli, child.id, 'back');
    expect(c.active).toBe(true);
    expect((await agencies.requireActive(child.id)).id).toBe(child.id);
    expect((await agencies.history(child.id)).map((h) => h.change)).toEqual(['created', 'deactivated', 'reactivated']);
    // reactivating an active agency changes nothing
    expect((await agencies.reactivate(t.cli, child.id, 'again')).version).toBe(c.version);
  });

  it('requireActive and get report an unknown agency as not found', async () => {
    await refused(agencies.requireActive(randomUUID()), 'GS_ERR_AGENCY_NOT_FOUND');
    await refused(agencies.get('not-a-uuid'), 'GS_ERR_AGENCY_NOT_FOUND');
  });
});

describe('names by language', () => {
  it('returns the name in the asked language and falls back to Chinese', async () => {
    const a = await agencies.create(t.cli, input(130, { nameZh: '新疆维吾尔自治区测试厅', regionCode: '650000', level: 'province', names: { ug: 'شىنجاڭ ئۇيغۇر ئاپتونوم رايونى سىناق نازارىتى', kk: 'Сынақ' } }));
    expect((await agencies.get(a.id, 'ug')).name).toBe('شىنجاڭ ئۇيغۇر ئاپتونوم رايونى سىناق نازارىتى');
    expect((await agencies.get(a.id, 'ug-CN')).name).toBe('شىنجاڭ ئۇيغۇر ئاپتونوم رايونى سىناق نازارىتى');
    expect((await agencies.get(a.id, 'KK')).name).toBe('Сынақ');
    expect((await agencies.get(a.id, 'fr')).name).toBe('新疆维吾尔自治区测试厅');
    expect((await agencies.get(a.id, 'zh')).name).toBe('新疆维吾尔自治区测试厅');
    expect((await agencies.get(a.id)).name).toBe('新疆维吾尔自治区测试厅');
    expect((await agencies.list({ q: '新疆维吾尔自治区测试厅', limit: 5 }, 'ug'))[0]?.name).toBe('شىنجاڭ ئۇيغۇر ئاپتونوم رايونى سىناق نازارىتى');
  });
});

describe('atomicity', () => {
  it('a refused create leaves no agency, history or audit row', async () => {
    const existing = await agencies.create(t.cli, input(140));
    const before = await counts();
    await refused(agencies.create(t.cli, input(141, { code: existing.code })), 'GS_ERR_AGENCY_CODE_TAKEN');
    await refused(agencies.create(t.cli, input(141, { parentId: randomUUID() })), 'GS_ERR_AGENCY_PARENT_INVALID');
    expect(await counts()).toEqual(before);
  });

  it('a create that fails after its insert (here: the audit write) is rolled back completely', async () => {
    // A real failure inside the transaction, after the agency row and its history are written.
    await sql`create function fail_agency_audit() returns trigger language plpgsql as $$
      begin
        if new.action = 'agency.create' and new.details->>'code' = 'FAILS-AUDIT' then
          raise exception 'audit store unavailable';
        end if;
        return new;
      end $$`.execute(t.platform.db);
    await sql`create trigger fail_agency_audit before insert on audit_events for each row execute function fail_agency_audit()`.execute(t.platform.db);
    try {
      const before = await counts();
      await expect(agencies.create(t.cli, input(142, { code: 'FAILS-AUDIT' }))).rejects.toThrow(/audit store unavailable/);
      expect(await counts()).toEqual(before);
      await refused(agencies.getByCode('FAILS-AUDIT'), 'GS_ERR_AGENCY_NOT_FOUND');
      expect(await agencies.list({ q: usccFor(142), limit: 5 })).toEqual([]);
    } finally {
      await sql`drop trigger fail_agency_audit on audit_events`.execute(t.platform.db);
      await sql`drop function fail_agency_audit()`.execute(t.platform.db);
    }
    // with the store back, the same create goes through
    expect((await agencies.create(t.cli, input(142, { code: 'FAILS-AUDIT' }))).code).toBe('FAILS-AUDIT');
  });
});
