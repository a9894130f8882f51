import { describe, expect, it } from 'vitest';
import { canonicalJson, eventHash, serialiseEvent, type ChainedEvent } from './chain.js';

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
