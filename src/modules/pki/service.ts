import { createPrivateKey, type webcrypto } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { ListenedCache } from '../../db/listened-cache.js';
import { GsError } from '../../lib/errors.js';
import { isUuid, newId } from '../../lib/secrets.js';
import { SYSTEM_ACTOR, systemContext, type Actor, type RequestContext } from '../../server/actor.js';
import type { AccountService } from '../accounts/service.js';
import type { AgencyService } from '../agencies/service.js';
import type { AuditService } from '../audit/service.js';
import type { KeyRing } from '../keys/key-ring.js';
import type { NodeService } from '../nodes/service.js';
import type { SystemService } from '../systems/service.js';
import {
  CA_KEY_ALGORITHM_NAMES,
  caKeyAlgorithmNamed,
  CertificateAuthority,
  checkCsr,
  generateEcKey,
  normaliseSerial,
  type CaKeyAlgorithm,
  type IssuedCertificate,
  type RevocationReason,
} from './certificate-authority.js';
import { pkcs12Bundle } from './pkcs12.js';
import type { Certificate, CertificateStatus, KeySource, SubjectType } from './schemas.js';
import { PkiStore, type CertificateHolder, type CertificateRow, type HolderState } from './store.js';

const DAY_MS = 86_400_000;
/** The CA outlives every certificate it signs by far; a new CA is a later, deliberate operation. */
const CA_YEARS = 20;
/** The exchange listener's certificate: renewed when fewer days than this remain. */
const SERVER_RENEW_DAYS = 30;
const SERVER_VALIDITY_DAYS = 397;
/** Where the platform's own client certificate (push webhooks) is kept beside the listeners' (no DNS name has a colon). */
const PLATFORM_CLIENT_KEY = 'client:govshare-platform';

const authorityKeyContext = (id: string): string => `pki.authority:${id}`;
const certificateKeyContext = (id: string): string => `pki.certificate-key:${id}`;
const serverKeyContext = (name: string): string => `pki.server-key:${name}`;

export interface PkiSettings {
  readonly certificateValidityDays: number;
  /** The key algorithm of a CA created from now on. */
  readonly caKeyAlgorithm: CaKeyAlgorithm;
}

/** Who is on the other end of an exchange connection, established from its client certificate. */
export interface ExchangeIdentity {
  readonly subjectType: SubjectType;
  readonly subjectId: string;
  readonly name: string;
  readonly agencyId: string | null;
  readonly certificateId: string;
  readonly serialNumber: string;
  readonly notAfter: string;
}

export interface TlsCredentials {
  readonly key: string;
  readonly cert: string;
  readonly ca: string;
  readonly notAfter: Date;
}

interface SubjectState {
  readonly name: string;
  readonly agencyId: string | null;
  /** Why the subject may not hold or use a certificate now, or null. */
  readonly inactive: string | null;
}

/** The channel on which migration 0018's triggers announce a change of a certificate or its holder. */
export const IDENTITY_CHANNEL = 'govshare_identities';

/**
 * The platform CA and the certificates it issues (seed 000 §26: apply → operator approves → issue;
 * §28: user certificates instead of USB keys). See docs/pki.md and this folder's README.md.
 *
 * The CA's private key is sealed with the master key (KeyRing) in the database, so every server
 * process of one platform signs with the same CA. A platform-generated key for a certificate is
 * sealed the same way until its one download and then erased.
 */
export class PkiService {
  readonly #store: PkiStore;
  #authority: { id: string; ca: CertificateAuthority } | undefined;

  constructor(
    private readonly db: Db,
    private readonly audit: AuditService,
    private readonly keys: KeyRing,
    private readonly systems: SystemService,
    private readonly nodes: NodeService,
    private readonly agencies: AgencyService,
    private readonly accounts: AccountService,
    private readonly settings: PkiSettings,
    private readonly now: () => Date = () => new Date(),
    /** Holders of certificates, kept between requests (emptied on the `govshare_identities` channel). */
    readonly identities?: ListenedCache<CertificateHolder | undefined>,
  ) {
    this.#store = new PkiStore(db);
  }

  // ---- the CA -------------------------------------------------------------------------------

  /**
   * Creates the platform CA unless one exists; part of Platform.bootstrap, whose advisory lock makes
   * several servers starting at once create exactly one. Returns whether it created it.
   */
  async ensureAuthority(executor: Db): Promise<boolean> {
    if (await this.#store.currentAuthority(executor)) return false;
    const id = newId();
    const algorithm = this.settings.caKeyAlgorithm;
    const { authority, privateKey, notBefore, notAfter } = await CertificateAuthority.create(`CN=govshare platform CA ${id.slice(0, 8)}, O=govshare`, this.now(), CA_YEARS, algorithm);
    const keyAlgorithm = CA_KEY_ALGORITHM_NAMES[algorithm];
    await this.#store.insertAuthority(
      { id, subject: authority.subject, keyAlgorithm, certificatePem: authority.pem, sealedPrivateKey: this.keys.seal(privateKey, authorityKeyContext(id)), notBefore, notAfter, retiredAt: null },
      executor,
    );
    await this.audit.record(systemContext(), { action: 'pki.authority.create', targetType: 'pkiAuthority', targetId: id, details: { subject: authority.subject, keyAlgorithm, notAfter: notAfter.toISOString() } }, executor);
    return true;
  }

  /** The current CA's key algorithm (the setting applies when the CA is created; an existing CA keeps its own). */
  async authorityAlgorithm(): Promise<CaKeyAlgorithm> {
    return (await this.#ca()).ca.algorithm;
  }

  async #ca(): Promise<{ id: string; ca: CertificateAuthority }> {
    if (this.#authority) return this.#authority;
    const row = await this.#store.currentAuthority();
    if (!row) throw new GsError('GS_ERR_PKI_CA_MISSING');
    const ca = await CertificateAuthority.load(row.certificatePem, this.keys.open(row.sealedPrivateKey, authorityKeyContext(row.id)), caKeyAlgorithmNamed(row.keyAlgorithm));
    this.#authority = { id: row.id, ca };
    return this.#authority;
  }

  async caCertificatePem(): Promise<string> {
    return (await this.#ca()).ca.pem;
  }

  /** The current CRL (DER), signed now, valid for a day. */
  async crl(): Promise<Buffer> {
    const { id, ca } = await this.#ca();
    const revoked = await this.#store.revoked(id);
    const now = this.now();
    return ca.crl(
      revoked.map((r) => ({ serialNumber: r.serialNumber!, revokedAt: r.revokedAt!, reason: r.revocationReason as RevocationReason })),
      now,
      new Date(now.getTime() + DAY_MS),
    );
  }

  // ---- applying, deciding, revoking ---------------------------------------------------------

  async applyForSystem(ctx: RequestContext, input: { systemId: string; csr?: string | undefined }): Promise<Certificate> {
    const subject = await this.#subject('system', input.systemId);
    if (!seesAllCertificates(ctx.actor) && subject.agencyId !== ctx.actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    return this.#apply(ctx, 'system', input.systemId, subject, input.csr);
  }

  /** A node's client certificate (its agency's node admin, or an operator for any node). */
  async applyForNode(ctx: RequestContext, input: { nodeId: string; csr?: string | undefined }): Promise<Certificate> {
    const subject = await this.#subject('node', input.nodeId);
    if (!seesAllCertificates(ctx.actor) && subject.agencyId !== ctx.actor.agencyId) throw new GsError('GS_ERR_AUTH_WRONG_AGENCY');
    return this.#apply(ctx, 'node', input.nodeId, subject, input.csr);
  }

  /** A user applies for their own client certificate (000 §28: replaces the USB-key certificate). */
  async applyForSelf(ctx: RequestContext, input: { csr?: string | undefined }): Promise<Certificate> {
    const userId = ctx.actor.userId;
    if (!userId) throw new GsError('GS_ERR_AUTH_REQUIRED');
    return this.#apply(ctx, 'user', userId, await this.#subject('user', userId), input.csr);
  }

  async #apply(ctx: RequestContext, subjectType: SubjectType, subjectId: string, subject: SubjectState, csr: string | undefined): Promise<Certificate> {
    if (subject.inactive) throw new GsError('GS_ERR_PKI_SUBJECT_INACTIVE', { subjectType, subjectId, reason: subject.inactive });
    const checked = csr === undefined ? undefined : await checkCsr(csr, subjectId, subjectType);
    const keySource: KeySource = checked ? 'csr' : 'generated';
    const { id: authorityId } = await this.#ca();
    const id = newId();
    const now = this.now();
    const row = await this.db.transaction().execute(async (trx) => {
      const inserted = await this.#store.insertCertificate(
        { id, authorityId, subjectType, subjectId, agencyId: subject.agencyId, keySource, csrPem: csr?.trim() ?? null, status: 'pending', requestedBy: ctx.actor.name, requestedByUser: ctx.actor.userId, requestedAt: now, updatedAt: now },
        trx,
      );
      await this.audit.record(ctx, { action: 'pki.certificate.apply', targetType: 'certificate', targetId: id, details: { subjectType, subjectId, agencyId: subject.agencyId, keySource, keyType: checked?.keyType ?? 'ECDSA P-256 (platform-generated)' } }, trx);
      return inserted;
    });
    return toCertificate(row);
  }

  /** The operator approves a pending application and the certificate is issued at once. */
  async approve(ctx: RequestContext, id: string, reason: string | null): Promise<Certificate> {
    const before = await this.#require(ctx.actor, id);
    if (before.status !== 'pending') throw new GsError('GS_ERR_PKI_CERT_STATE', { id, status: before.status, action: 'approve' });
    const subject = await this.#subject(before.subjectType as SubjectType, before.subjectId);
    if (subject.inactive) throw new GsError('GS_ERR_PKI_SUBJECT_INACTIVE', { subjectType: before.subjectType, subjectId: before.subjectId, reason: subject.inactive });
    const { id: authorityId, ca } = await this.#ca();
    const now = this.now();
    let sealedPrivateKey: string | null = null;
    let publicKey;
    if (before.keySource === 'csr') {
      publicKey = (await checkCsr(before.csrPem!, before.subjectId, before.subjectType)).publicKey;
    } else {
      const generated = await generateEcKey();
      publicKey = generated.publicKey;
      sealedPrivateKey = this.keys.seal(generated.pkcs8, certificateKeyContext(id));
    }
    const issued = await ca.issueClient({
      subject: `CN=${before.subjectId}, OU=${before.subjectType}, O=govshare`,
      publicKey,
      notBefore: new Date(now.getTime() - 60_000),
      notAfter: new Date(now.getTime() + this.settings.certificateValidityDays * DAY_MS),
    });
    const row = await this.db.transaction().execute(async (trx) => {
      const after = await this.#store.updateCertificate(
        id,
        'pending',
        { authorityId, status: 'issued', decidedBy: ctx.actor.name, decidedAt: now, decisionReason: reason, serialNumber: issued.serialNumber, certificatePem: issued.pem, fingerprintSha256: issued.fingerprintSha256, notBefore: issued.notBefore, notAfter: issued.notAfter, sealedPrivateKey },
        now,
        trx,
      );
      if (!after) throw new GsError('GS_ERR_PKI_CERT_STATE', { id, status: 'decided', action: 'approve' });
      await this.audit.record(ctx, { action: 'pki.certificate.approve', targetType: 'certificate', targetId: id, details: { reason } }, trx);
      await this.audit.record(ctx, { action: 'pki.certificate.issue', targetType: 'certificate', targetId: id, details: { subjectType: after.subjectType, subjectId: after.subjectId, serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString(), keySource: after.keySource } }, trx);
      return after;
    });
    return toCertificate(row);
  }

  async reject(ctx: RequestContext, id: string, reason: string): Promise<Certificate> {
    return this.#decide(ctx, id, 'pending', 'reject', async (trx, now) => {
      const after = await this.#store.updateCertificate(id, 'pending', { status: 'rejected', decidedBy: ctx.actor.name, decidedAt: now, decisionReason: reason }, now, trx);
      if (after) await this.audit.record(ctx, { action: 'pki.certificate.reject', targetType: 'certificate', targetId: id, details: { reason } }, trx);
      return after;
    });
  }

  /** Revokes an issued certificate; the next request on the exchange port with it is refused. */
  async revoke(ctx: RequestContext, id: string, reason: RevocationReason, comment: string | null): Promise<Certificate> {
    return this.#decide(ctx, id, 'issued', 'revoke', async (trx, now) => {
      const after = await this.#store.updateCertificate(id, 'issued', { status: 'revoked', revokedAt: now, revokedBy: ctx.actor.name, revocationReason: reason, revocationComment: comment, sealedPrivateKey: null }, now, trx);
      if (after) {
        // A console session opened with this certificate ends with it.
        const sessionsEnded = await this.accounts.endCertificateSessions(id, trx);
        await this.audit.record(ctx, { action: 'pki.certificate.revoke', targetType: 'certificate', targetId: id, details: { reason, comment, serialNumber: after.serialNumber, sessionsEnded } }, trx);
      }
      return after;
    });
  }

  async #decide(ctx: RequestContext, id: string, from: CertificateStatus, action: string, change: (trx: Db, now: Date) => Promise<CertificateRow | undefined>): Promise<Certificate> {
    const before = await this.#require(ctx.actor, id);
    if (before.status !== from) throw new GsError('GS_ERR_PKI_CERT_STATE', { id, status: before.status, action });
    const row = await this.db.transaction().execute(async (trx) => {
      const after = await change(trx, this.now());
      if (!after) throw new GsError('GS_ERR_PKI_CERT_STATE', { id, status: 'changed meanwhile', action });
      return after;
    });
    return toCertificate(row);
  }

  /**
   * The one download of a platform-generated key: a PKCS#12 file (key, certificate, CA certificate)
   * protected by the caller's passphrase. Only the account that applied may take it; afterwards
   * the platform no longer has the key.
   */
  async takeKeyBundle(ctx: RequestContext, id: string, passphrase: string): Promise<Buffer> {
    const { ca } = await this.#ca();
    return this.db.transaction().execute(async (trx) => {
      const row = isUuid(id) ? await this.#store.certificateForUpdate(id, trx) : undefined;
      if (!row || row.requestedByUser === null || row.requestedByUser !== ctx.actor.userId) throw new GsError('GS_ERR_PKI_CERT_NOT_FOUND', { id });
      if (row.keySource !== 'generated') throw new GsError('GS_ERR_PKI_KEY_GONE', { id, reason: 'the key was made by its owner (CSR); the platform never had it' });
      if (row.status !== 'issued') throw new GsError('GS_ERR_PKI_CERT_STATE', { id, status: row.status, action: 'download its key' });
      if (!row.sealedPrivateKey) throw new GsError('GS_ERR_PKI_KEY_GONE', { id, reason: `it was downloaded at ${row.keyDownloadedAt?.toISOString() ?? 'an earlier time'}` });
      const pkcs8 = this.keys.open(row.sealedPrivateKey, certificateKeyContext(id));
      const now = this.now();
      await this.#store.updateCertificate(id, 'issued', { sealedPrivateKey: null, keyDownloadedAt: now }, now, trx);
      await this.audit.record(ctx, { action: 'pki.certificate.key-download', targetType: 'certificate', targetId: id, details: { serialNumber: row.serialNumber } }, trx);
      return pkcs12Bundle({
        privateKeyPkcs8: pkcs8,
        certificateDer: pemToDer(row.certificatePem!),
        caCertificateDer: pemToDer(ca.pem),
        passphrase,
        friendlyName: `govshare ${row.subjectType} ${row.subjectId}`,
      });
    });
  }

  // ---- reading ------------------------------------------------------------------------------

  async get(actor: Actor, id: string): Promise<Certificate> {
    return toCertificate(await this.#require(actor, id));
  }

  /** Operators see every certificate; agency staff with certificate:read see their agency's. */
  async list(actor: Actor, q: { status?: CertificateStatus | undefined; subjectType?: SubjectType | undefined; subjectId?: string | undefined; expiringWithinDays?: number | undefined; after?: string | undefined; limit: number }): Promise<Certificate[]> {
    const { expiringWithinDays, ...rest } = q;
    const expiringBefore = expiringWithinDays === undefined ? undefined : new Date(this.now().getTime() + expiringWithinDays * DAY_MS);
    const agencyId = seesAllCertificates(actor) ? undefined : (actor.agencyId ?? undefined);
    if (!seesAllCertificates(actor) && !agencyId) return [];
    return (await this.#store.list({ ...rest, agencyId, expiringBefore })).map(toCertificate);
  }

  async listOwn(actor: Actor, q: { after?: string | undefined; limit: number }): Promise<Certificate[]> {
    if (!actor.userId) return [];
    return (await this.#store.list({ ...q, subjectType: 'user', subjectId: actor.userId })).map(toCertificate);
  }

  async #require(actor: Actor, id: string): Promise<CertificateRow> {
    const row = isUuid(id) ? await this.#store.certificate(id) : undefined;
    const visible =
      row !== undefined &&
      (seesAllCertificates(actor) ||
        (actor.permissions.has('certificate:read') && row.agencyId !== null && row.agencyId === actor.agencyId) ||
        (row.subjectType === 'user' && row.subjectId === actor.userId));
    if (!row || !visible) throw new GsError('GS_ERR_PKI_CERT_NOT_FOUND', { id });
    return row;
  }

  async #subject(type: SubjectType, id: string): Promise<SubjectState> {
    if (type === 'system') {
      const system = await this.systems.get(SYSTEM_ACTOR, id);
      const agency = await this.agencies.get(system.agencyId);
      const inactive = system.status !== 'active' ? `the system is ${system.status}` : !agency.active ? 'its agency is deactivated' : null;
      return { name: system.name, agencyId: system.agencyId, inactive };
    }
    if (type === 'node') {
      const node = await this.nodes.get(SYSTEM_ACTOR, id);
      const agency = await this.agencies.get(node.agencyId);
      const inactive = node.status !== 'active' ? `the node is ${node.status}` : !agency.active ? 'its agency is deactivated' : null;
      return { name: node.name, agencyId: node.agencyId, inactive };
    }
    const user = await this.accounts.get(id);
    const agency = user.agencyId ? await this.agencies.get(user.agencyId) : null;
    const inactive = !user.active ? 'the account is deactivated' : agency && !agency.active ? 'its agency is deactivated' : null;
    return { name: user.username, agencyId: user.agencyId, inactive };
  }

  // ---- the exchange port --------------------------------------------------------------------

  /**
   * Maps a client certificate TLS has already verified against the platform CA to its holder,
   * reading the database on every call: a revocation or a deactivation takes effect on the next
   * request, without a restart.
   */
  async identify(peer: { serialNumber: string; fingerprint256: string }): Promise<ExchangeIdentity> {
    const serialNumber = normaliseSerial(peer.serialNumber);
    const read = () => this.#store.certificateWithHolder(serialNumber);
    // Every check below runs on each request: only the row is kept, never the verdict.
    const row = await (this.identities ? this.identities.get(serialNumber, read) : read());
    if (!row || row.fingerprintSha256 !== peer.fingerprint256.replace(/:/g, '').toLowerCase()) throw new GsError('GS_ERR_PKI_CERT_UNKNOWN', { serialNumber });
    if (row.status === 'revoked') throw new GsError('GS_ERR_PKI_CERT_REVOKED', { serialNumber, revokedAt: row.revokedAt!.toISOString(), reason: row.revocationReason ?? 'unspecified' });
    if (row.status !== 'issued' || !row.holder) throw new GsError('GS_ERR_PKI_CERT_UNKNOWN', { serialNumber });
    // TLS checked the validity against the host clock; this checks it against the platform's.
    if (row.notAfter! <= this.now()) throw new GsError('GS_ERR_PKI_CERT_EXPIRED', { serialNumber, notAfter: row.notAfter!.toISOString() });
    const inactive = inactiveReason(row.subjectType as SubjectType, row.holder);
    if (inactive) throw new GsError('GS_ERR_PKI_IDENTITY_INACTIVE', { subjectType: row.subjectType, subjectId: row.subjectId, reason: inactive });
    return { subjectType: row.subjectType as SubjectType, subjectId: row.subjectId, name: row.holder.name, agencyId: row.holder.agencyId, certificateId: row.id, serialNumber, notAfter: row.notAfter!.toISOString() };
  }


  /**
   * The exchange listener's key and certificate for `names` (the first is the CN; all are SANs),
   * issued by the platform CA, kept sealed in the database so every server shares it, and
   * reissued when missing or within 30 days of expiry.
   */
  async serverCredentials(names: readonly string[]): Promise<TlsCredentials> {
    return this.#listenerCredentials(names.join(','), (ca, publicKey, notBefore, notAfter) => ca.issueServer({ names, publicKey, notBefore, notAfter }));
  }

  /**
   * The platform's own client certificate (TLS client authentication, CN=govshare platform): what
   * it presents to a consumer's mutual-TLS push webhook. Kept and renewed as the listener's is.
   */
  async platformClientCredentials(): Promise<TlsCredentials> {
    return this.#listenerCredentials(PLATFORM_CLIENT_KEY, (ca, publicKey, notBefore, notAfter) => ca.issueClient({ subject: 'CN=govshare platform, O=govshare', publicKey, notBefore, notAfter }));
  }

  async #listenerCredentials(key: string, issue: (ca: CertificateAuthority, publicKey: webcrypto.CryptoKey, notBefore: Date, notAfter: Date) => Promise<IssuedCertificate>): Promise<TlsCredentials> {
    const { ca } = await this.#ca();
    const now = this.now();
    const stored = await this.#store.serverCertificate(key);
    if (stored && stored.notAfter.getTime() - now.getTime() > SERVER_RENEW_DAYS * DAY_MS && (await ca.signed(stored.certificatePem))) {
      return { key: pkcs8Pem(this.keys.open(stored.sealedPrivateKey, serverKeyContext(key))), cert: stored.certificatePem, ca: ca.pem, notAfter: stored.notAfter };
    }
    const generated = await generateEcKey();
    const issued = await issue(ca, generated.publicKey, new Date(now.getTime() - 60_000), new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS));
    await this.#store.saveServerCertificate({ serverName: key, serialNumber: issued.serialNumber, certificatePem: issued.pem, sealedPrivateKey: this.keys.seal(generated.pkcs8, serverKeyContext(key)), notAfter: issued.notAfter, createdAt: now });
    await this.audit.record(systemContext(), { action: 'pki.server-certificate.issue', targetType: 'serverCertificate', targetId: key, details: { serialNumber: issued.serialNumber, notAfter: issued.notAfter.toISOString() } });
    return { key: pkcs8Pem(generated.pkcs8), cert: issued.pem, ca: ca.pem, notAfter: issued.notAfter };
  }
}

function seesAllCertificates(actor: Actor): boolean {
  return actor.type === 'cli' || actor.type === 'system' || actor.permissions.has('certificate:manage');
}

function pemToDer(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----(BEGIN|END) [A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

function pkcs8Pem(der: Buffer): string {
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

function toCertificate(r: CertificateRow): Certificate {
  const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);
  return {
    id: r.id,
    subjectType: r.subjectType as SubjectType,
    subjectId: r.subjectId,
    agencyId: r.agencyId,
    keySource: r.keySource as KeySource,
    status: r.status as CertificateStatus,
    requestedBy: r.requestedBy,
    requestedAt: r.requestedAt.toISOString(),
    decidedBy: r.decidedBy,
    decidedAt: iso(r.decidedAt),
    decisionReason: r.decisionReason,
    serialNumber: r.serialNumber,
    fingerprintSha256: r.fingerprintSha256,
    notBefore: iso(r.notBefore),
    notAfter: iso(r.notAfter),
    certificatePem: r.certificatePem,
    keyDownloadable: r.sealedPrivateKey !== null,
    revokedAt: iso(r.revokedAt),
    revocationReason: r.revocationReason as RevocationReason | null,
    revocationComment: r.revocationComment,
    version: r.version,
  };
}

/** Why a holder may not use its certificate now (the same reasons `#subject` gives), or null. */
function inactiveReason(type: SubjectType, h: HolderState): string | null {
  if (type === 'user') return h.active === false ? 'the account is deactivated' : h.agencyActive === false ? 'its agency is deactivated' : null;
  if (h.status !== 'active') return `the ${type === 'system' ? 'system' : 'node'} is ${h.status}`;
  return h.agencyActive === false ? 'its agency is deactivated' : null;
}
