import { Type, type Static } from 'typebox';
import { DateTime, literals, Uuid } from '../../server/schema-kit.js';
import { REVOCATION_REASONS } from './certificate-authority.js';

/**
 * Who a certificate is for. A new kind of subject (agency nodes) is a new value here and in the
 * service's subject lookup; the table stores the type as text, so no schema change.
 */
export const SUBJECT_TYPES = ['system', 'user', 'node'] as const;
export type SubjectType = (typeof SUBJECT_TYPES)[number];

export const CERTIFICATE_STATUSES = ['pending', 'rejected', 'issued', 'revoked'] as const;
export type CertificateStatus = (typeof CERTIFICATE_STATUSES)[number];

export const KEY_SOURCES = ['csr', 'generated'] as const;
export type KeySource = (typeof KEY_SOURCES)[number];

const Csr = Type.String({
  minLength: 1,
  maxLength: 20_000,
  description: 'PEM PKCS#10 request (ECDSA P-256 or RSA ≥ 2048) whose subject has one CN: the id of the system, node or user. Omit it to have the platform generate the key (downloadable once as PKCS#12).',
});

export const SystemCertificateApply = Type.Object({ systemId: Uuid, csr: Type.Optional(Csr) }, { additionalProperties: false });
export type SystemCertificateApply = Static<typeof SystemCertificateApply>;

export const NodeCertificateApply = Type.Object({ nodeId: Uuid, csr: Type.Optional(Csr) }, { additionalProperties: false });
export type NodeCertificateApply = Static<typeof NodeCertificateApply>;

export const OwnCertificateApply = Type.Object({ csr: Type.Optional(Csr) }, { additionalProperties: false });
export type OwnCertificateApply = Static<typeof OwnCertificateApply>;

export const Decision = Type.Object({ reason: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })) }, { additionalProperties: false });
export const Rejection = Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, { additionalProperties: false });

export const Revocation = Type.Object(
  {
    reason: literals(REVOCATION_REASONS, { description: 'RFC 5280 reason code, published in the CRL' }),
    comment: Type.Optional(Type.String({ minLength: 1, maxLength: 500 })),
  },
  { additionalProperties: false },
);
export type Revocation = Static<typeof Revocation>;

export const KeyBundleRequest = Type.Object(
  { passphrase: Type.String({ minLength: 12, maxLength: 200, description: 'Protects the PKCS#12 file; the platform does not keep it' }) },
  { additionalProperties: false },
);

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

export const Certificate = Type.Object({
  id: Uuid,
  subjectType: literals(SUBJECT_TYPES),
  subjectId: Uuid,
  agencyId: Nullable(Uuid),
  keySource: literals(KEY_SOURCES),
  status: literals(CERTIFICATE_STATUSES),
  requestedBy: Type.String(),
  requestedAt: DateTime,
  decidedBy: Nullable(Type.String()),
  decidedAt: Nullable(DateTime),
  decisionReason: Nullable(Type.String()),
  serialNumber: Nullable(Type.String({ description: 'Hexadecimal, as TLS libraries print it' })),
  fingerprintSha256: Nullable(Type.String()),
  notBefore: Nullable(DateTime),
  notAfter: Nullable(DateTime),
  certificatePem: Nullable(Type.String()),
  keyDownloadable: Type.Boolean({ description: 'A platform-generated key waits for its one download' }),
  revokedAt: Nullable(DateTime),
  revocationReason: Nullable(literals(REVOCATION_REASONS)),
  revocationComment: Nullable(Type.String()),
  version: Type.Integer(),
});
export type Certificate = Static<typeof Certificate>;
