import { hash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { archiveSignatureValid, canonicalJson, eventHash, generateSigningKey, privateKeyFromDer, publicKeyFromPem, serialiseEvent, signArchive, type ChainedEvent } from './chain.js';
import { randomJson } from './test-json.js';
import { canonicalJsonbText, checkPage } from './verify-hashing.js';

const event: ChainedEvent = {
  seq: 42,
  hashAlg: 'sha256',
  at: '2026-01-31T08:00:00.123456Z',
  actorType: 'user',
  actorId: '0b9f8a52-4d7e-4f5e-9a51-3f0c2d1e0a11',
  actorAgencyId: null,
  actorName: 'zhang.san',
  action: 'user.set-roles',
  targetType: 'user',
  targetId: 'x"y,z',
  outcome: 'success',
  requestId: null,
  ip: '10.0.0.1',
  details: { to: ['viewer'], from: [], nested: { b: 1, a: '审计' } },
  prevHash: '0'.repeat(64),
};

describe('canonical serialisation', () => {
  it('is canonicalJson of the documented field array', () => {
    const e = event;
    expect(serialiseEvent(e)).toBe(
      canonicalJson(['govshare-audit-v1', e.hashAlg, e.seq, e.at, e.actorType, e.actorId, e.actorAgencyId, e.actorName, e.action, e.targetType, e.targetId, e.outcome, e.requestId, e.ip, e.details, e.prevHash]),
    );
  });

  it('sorts object keys at every level and ignores their order of insertion', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: null, y: true }], c: 'x' } })).toBe('{"a":{"c":"x","d":[1,{"y":true,"z":null}]},"b":1}');
    expect(eventHash({ ...event, details: { nested: { a: '审计', b: 1 }, from: [], to: ['viewer'] } })).toBe(eventHash(event));
  });

  it('changes the hash when any field changes, and with the algorithm', () => {
    const base = eventHash(event);
    expect(eventHash({ ...event, seq: 43 })).not.toBe(base);
    expect(eventHash({ ...event, at: '2026-01-31T08:00:00.123457Z' })).not.toBe(base);
    expect(eventHash({ ...event, details: { ...event.details as object, extra: 1 } })).not.toBe(base);
    expect(eventHash({ ...event, hashAlg: 'sm3' })).toMatch(/^[0-9a-f]{64}$/);
    expect(eventHash({ ...event, hashAlg: 'sm3' })).not.toBe(base);
  });
});

/** The rules as first written (README.md): what the loop-based canonicalJson must equal. */
function referenceCanonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(referenceCanonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${referenceCanonicalJson(obj[k])}`).join(',')}}`;
}

describe('canonicalJson (the fast implementation)', () => {
  it('equals the rules as first written, on many awkward values', () => {
    for (let seed = 1; seed < 3000; seed++) {
      const v = JSON.parse(JSON.stringify(randomJson(seed))) as unknown;
      expect(canonicalJson(v)).toBe(referenceCanonicalJson(v));
    }
    const withUndefined = { b: undefined, a: [undefined, 1], c: { z: 1, y: undefined } };
    expect(canonicalJson(withUndefined)).toBe(referenceCanonicalJson(withUndefined));
  });
});

describe('canonicalJsonbText (details as jsonb writes them, without parsing)', () => {
  it('drops jsonb\'s spaces, sorts keys by UTF-16 code units and writes numbers as JavaScript does', () => {
    expect(canonicalJsonbText('{"b": 1, "aa": [1, 2, {"y": true, "x": null}], "审计": "é 😀"}')).toBe('{"aa":[1,2,{"x":null,"y":true}],"b":1,"审计":"é 😀"}');
    expect(canonicalJsonbText('[1.50, 0.1, 1000000000000000000000, -7, 0, 123456789012345678]')).toBe('[1.5,0.1,1e+21,-7,0,123456789012345680]');
    expect(canonicalJsonbText('"plain"')).toBe('"plain"');
    expect(canonicalJsonbText('{}')).toBe('{}');
    expect(canonicalJsonbText('[]')).toBe('[]');
  });

  it('declines (null) whatever it does not expect, so the caller parses instead', () => {
    for (const text of ['{"a": "x\\"y"}', '{"a":1}', '{"a": 1,"b": 2}', '[1,2]', '{"a": 1, "a": 2}', '{"a": 01}', '{"a": 1.}', '{"a": 0x10}', '{"a": 1} ', '{"a" : 1}', '{"a": tru}', '']) {
      expect(canonicalJsonbText(text), text).toBeNull();
    }
  });
});

describe('page checking (verify-hashing.ts)', () => {
  const digest = (alg: string, data: Uint8Array) => hash(alg, data, 'hex');
  /** A page line as the database renders it (store.ts VERIFY_LINE); jsonb text has spaces after , and :. */
  const line = (e: ChainedEvent & { hash: unknown }, over: { alg?: unknown; prev?: unknown } = {}) =>
    `${e.seq}\t${JSON.stringify([over.alg ?? e.hashAlg, e.hash, over.prev ?? e.prevHash, e.at, e.actorType, e.actorId, e.actorAgencyId, e.actorName, e.action, e.targetType, e.targetId, e.outcome, e.requestId, e.ip])}` +
    `\t${JSON.stringify(e.details, null, 1).replace(/\n */g, ' ')}\n`;
  const chain = (n: number): (ChainedEvent & { hash: string })[] => {
    let prevHash = '0'.repeat(64);
    return Array.from({ length: n }, (_, i) => {
      const e = { ...event, seq: 42 + i, hashAlg: i % 3 === 2 ? ('sm3' as const) : ('sha256' as const), details: randomJson(i + 7) as Record<string, unknown>, prevHash };
      const h = eventHash(e);
      prevHash = h;
      return { ...e, hash: h };
    });
  };

  it('recomputes each event from its line, links them, and returns the hashes asked for', () => {
    const events = chain(6);
    const r = checkPage(Buffer.from(events.map((e) => line(e)).join('')), 42, [44, 47], canonicalJson, canonicalJsonbText, digest);
    expect(r).toEqual({ checked: 6, firstPrev: '0'.repeat(64), lastHash: events[5]!.hash, failure: null, hashes: { 44: events[2]!.hash, 47: events[5]!.hash } });
  });

  it('names the first problem as the reference would: missing, not chained, unknown algorithm, link, hash', () => {
    const events = chain(6);
    const page = (f: (e: (typeof events)[number], i: number) => string | null) => events.map((e, i) => f(e, i) ?? '').join('');
    const check = (text: string) => checkPage(Buffer.from(text), 42, [], canonicalJson, canonicalJsonbText, digest).failure;
    expect(check(page((e, i) => (i === 2 ? null : line(e))))).toEqual({ seq: 44, kind: 'missing', found: 45 });
    expect(check(page((e, i) => line(i === 3 ? { ...e, hash: null } : e)))).toEqual({ seq: 45, kind: 'unchained' });
    expect(check(page((e, i) => line(e, i === 1 ? { alg: 'md5' } : {})))).toEqual({ seq: 43, kind: 'algorithm', found: 'md5' });
    expect(check(page((e, i) => line(e, i === 4 ? { prev: 'f'.repeat(64) } : {})))).toEqual({ seq: 46, kind: 'link' });
    expect(check(page((e, i) => line(i === 5 ? { ...e, action: 'x.y' } : e)))).toEqual({ seq: 47, kind: 'hash' });
    // A stored hash that is not plain hex (quotes, backslashes) takes the careful path and still fails as a hash.
    expect(check(page((e, i) => line(i === 0 ? { ...e, hash: `${e.hash.slice(0, 60)}\\"x"` } : e)))).toEqual({ seq: 42, kind: 'hash' });
  });
});

describe('archive signature', () => {
  it('covers the range, both end hashes and the content hash', () => {
    const pair = generateSigningKey();
    const statement = { firstSeq: 1, lastSeq: 9, firstPrevHash: '0'.repeat(64), lastHash: 'a'.repeat(64), events: 9, contentSha256: 'b'.repeat(64), at: new Date(), keyId: pair.id };
    const signature = signArchive(statement, privateKeyFromDer(pair.privateKeyDer));
    const key = publicKeyFromPem(pair.publicKeyPem);
    expect(archiveSignatureValid(statement, signature, key)).toBe(true);
    for (const changed of [{ lastSeq: 10 }, { lastHash: 'c'.repeat(64) }, { contentSha256: 'c'.repeat(64) }, { events: 8 }]) {
      expect(archiveSignatureValid({ ...statement, ...changed }, signature, key)).toBe(false);
    }
  });
});
