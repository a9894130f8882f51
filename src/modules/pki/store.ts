import { sql, type Insertable, type Selectable, type Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CertificatesTable, PkiAuthoritiesTable, PkiServerCertificatesTable } from '../../db/schema.js';

export type AuthorityRow = Selectable<PkiAuthoritiesTable>;
export type CertificateRow = Selectable<CertificatesTable>;
export type ServerCertificateRow = Selectable<PkiServerCertificatesTable>;

/** A certificate holder's state: a system's or node's status, a user's active flag, its agency's. */
export interface HolderState {
  readonly name: string;
  readonly agencyId: string | null;
  readonly status: string | null;
  readonly active: boolean | null;
  /** null: the holder has no agency (platform staff). */
  readonly agencyActive: boolean | null;
}

/** A certificate with the state of its holder, as the exchange identifies a peer by it. */
export type CertificateHolder = CertificateRow & { holder: HolderState | null };

export interface CertificateQuery {
  readonly agencyId?: string | undefined;
  readonly subjectType?: string | undefined;
  readonly subjectId?: string | undefined;
  readonly status?: string | undefined;
  /** Issued certificates whose validity ends before this instant. */
  readonly expiringBefore?: Date | undefined;
  readonly after?: string | undefined;
  readonly limit: number;
}

export class PkiStore {
  constructor(private readonly db: Db) {}

  currentAuthority(executor: Db = this.db): Promise<AuthorityRow | undefined> {
    return executor.selectFrom('pkiAuthorities').selectAll().where('retiredAt', 'is', null).executeTakeFirst();
  }

  async insertAuthority(row: Insertable<PkiAuthoritiesTable>, executor: Db): Promise<void> {
    await executor.insertInto('pkiAuthorities').values(row).execute();
  }

  certificate(id: string, executor: Db = this.db): Promise<CertificateRow | undefined> {
    return executor.selectFrom('certificates').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * A certificate with the state of its holder and the holder's agency, in one query: what the
   * exchange port checks on every request (PkiService.identify).
   */
  async certificateWithHolder(serialNumber: string): Promise<CertificateHolder | undefined> {
    const r = await sql<CertificateRow & { holderName: string | null; holderAgencyId: string | null; holderStatus: string | null; holderActive: boolean | null; agencyActive: boolean | null }>`
      select c.*,
        coalesce(s.name, n.name, u.username) as holder_name,
        coalesce(s.agency_id, n.agency_id, u.agency_id) as holder_agency_id,
        coalesce(s.status, n.status) as holder_status,
        u.active as holder_active,
        a.active as agency_active
      from certificates c
        left join business_systems s on c.subject_type = 'system' and s.id = c.subject_id
        left join nodes n on c.subject_type = 'node' and n.id = c.subject_id
        left join users u on c.subject_type = 'user' and u.id = c.subject_id
        left join agencies a on a.id = coalesce(s.agency_id, n.agency_id, u.agency_id)
      where c.serial_number = ${serialNumber}`.execute(this.db);
    const row = r.rows[0];
    if (!row) return undefined;
    const { holderName, holderAgencyId, holderStatus, holderActive, agencyActive, ...certificate } = row;
    return { ...certificate, holder: holderName === null ? null : { name: holderName, agencyId: holderAgencyId, status: holderStatus, active: holderActive, agencyActive } };
  }

  certificateBySerial(serialNumber: string): Promise<CertificateRow | undefined> {
    return this.db.selectFrom('certificates').selectAll().where('serialNumber', '=', serialNumber).executeTakeFirst();
  }

  list(q: CertificateQuery): Promise<CertificateRow[]> {
    let query = this.db.selectFrom('certificates').selectAll();
    if (q.agencyId) query = query.where('agencyId', '=', q.agencyId);
    if (q.subjectType) query = query.where('subjectType', '=', q.subjectType);
    if (q.subjectId) query = query.where('subjectId', '=', q.subjectId);
    if (q.status) query = query.where('status', '=', q.status);
    if (q.expiringBefore) query = query.where('status', '=', 'issued').where('notAfter', '<', q.expiringBefore);
    if (q.after) query = query.where('id', '>', q.after);
    return query.orderBy('id').limit(q.limit).execute();
  }

  revoked(authorityId: string): Promise<CertificateRow[]> {
    return this.db.selectFrom('certificates').selectAll().where('authorityId', '=', authorityId).where('status', '=', 'revoked').orderBy('revokedAt').execute();
  }

  insertCertificate(row: Insertable<CertificatesTable>, executor: Db): Promise<CertificateRow> {
    return executor.insertInto('certificates').values(row).returningAll().executeTakeFirstOrThrow();
  }

  /** Updates a certificate only if it is still in `fromStatus`; undefined when another request moved it first. */
  updateCertificate(id: string, fromStatus: string, patch: Updateable<CertificatesTable>, now: Date, executor: Db): Promise<CertificateRow | undefined> {
    return executor
      .updateTable('certificates')
      .set({ ...patch, updatedAt: now, version: sql<number>`version + 1` })
      .where('id', '=', id)
      .where('status', '=', fromStatus)
      .returningAll()
      .executeTakeFirst();
  }

  /** The row, locked until the end of the caller's transaction. */
  certificateForUpdate(id: string, executor: Db): Promise<CertificateRow | undefined> {
    return executor.selectFrom('certificates').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
  }

  serverCertificate(serverName: string): Promise<ServerCertificateRow | undefined> {
    return this.db.selectFrom('pkiServerCertificates').selectAll().where('serverName', '=', serverName).executeTakeFirst();
  }

  async saveServerCertificate(row: Insertable<PkiServerCertificatesTable>): Promise<void> {
    await this.db
      .insertInto('pkiServerCertificates')
      .values(row)
      .onConflict((oc) => oc.column('serverName').doUpdateSet({ serialNumber: row.serialNumber, certificatePem: row.certificatePem, sealedPrivateKey: row.sealedPrivateKey, notAfter: row.notAfter, createdAt: row.createdAt }))
      .execute();
  }
}
