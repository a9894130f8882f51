import { sql } from 'kysely';
import { openDatabase, pgliteDir, type DatabaseHandle, type Db } from '../db/database.js';
import { acquireDataDirLock, type DataDirLock } from '../db/data-dir-lock.js';
import { migrate, schemaStatus, type MigrationResult, type SchemaStatus } from '../db/migrate.js';
import { AccountService } from '../modules/accounts/service.js';
import type { Role } from '../modules/accounts/permissions.js';
import { AgencyService } from '../modules/agencies/service.js';
import { AttachmentService } from '../modules/attachments/service.js';
import { AuditService } from '../modules/audit/service.js';
import { blobStoreOf, type BlobStore } from '../modules/blobs/blob-store.js';
import { CalendarService, type CalendarSyncResult } from '../modules/calendar/service.js';
import { CatalogSearch } from '../modules/catalog/search.js';
import { CatalogService } from '../modules/catalog/service.js';
import { DemandService } from '../modules/demands/service.js';
import { ExchangeService, TABLE_SHAPE_CHANNEL } from '../modules/exchange/service.js';
import { GrantCheck } from '../modules/grants/check.js';
import { ListenedCache } from '../db/listened-cache.js';
import { PullService } from '../modules/exchange/pull.js';
import { VerifyService } from '../modules/exchange/verify.js';
import { PushDelivery } from '../modules/exchange/push-delivery.js';
import { SubscriptionService } from '../modules/exchange/subscriptions.js';
import { VerifyJobService } from '../modules/exchange/verify-jobs.js';
import { GrantService } from '../modules/grants/service.js';
import { ShareRequestService } from '../modules/requests/service.js';
import { KeyRing } from '../modules/keys/key-ring.js';
import { NodeService } from '../modules/nodes/service.js';
import { EmailSender } from '../modules/notifications/channels.js';
import { NotificationService } from '../modules/notifications/service.js';
import { DeliveryWorker } from '../modules/notifications/worker.js';
import { IDENTITY_CHANNEL, PkiService } from '../modules/pki/service.js';
import { RegionService } from '../modules/regions/service.js';
import { SystemService } from '../modules/systems/service.js';
import { SYSTEM_ACTOR, systemContext } from './actor.js';
import { parseRetryDelays, type Config } from './config.js';

export interface BootstrapResult {
  readonly regionsLoaded: number;
  /** The shipped State Council holiday arrangements loaded, or left alone because an operator owns the year. */
  readonly calendar: CalendarSyncResult;
  readonly createdAdmins: readonly { readonly username: string; readonly role: Role; readonly password: string }[];
}

const INITIALISED_KEY = 'platform.initialisedAt';

/** The second advisory-lock key space: bootstrap (the first is migrations). */
const BOOTSTRAP_LOCK_KEY = 0x676f7673;

/**
 * The composition root: one database, the services wired to it with plain constructor arguments.
 * Used by `serve`, by the admin CLI (when it owns the database) and by tests.
 */
export class Platform {
  readonly audit: AuditService;
  readonly regions: RegionService;
  /** The working-day calendar: deadlines in working days for every module. */
  readonly calendar: CalendarService;
  readonly agencies: AgencyService;
  readonly accounts: AccountService;
  readonly systems: SystemService;
  readonly nodes: NodeService;
  readonly pki: PkiService;
  readonly catalog: CatalogService;
  readonly catalogSearch: CatalogSearch;
  /** The exchange's shared tables and the providers' ingest. */
  readonly exchange: ExchangeService;
  readonly demands: DemandService;
  /** Share requests (申请共享): filing, review with deadlines, disputes, arbitration. */
  readonly requests: ShareRequestService;
  /** Grants (授权): what each consumer system may receive, and how. */
  readonly grants: GrantService;
  /** Files by their SHA-256 (GOVSHARE_BLOB_STORE): attachments, and the exchange's file resources. */
  readonly blobs: BlobStore;
  readonly attachments: AttachmentService;
  /** Inbox, e-mail and webhooks; other modules call `notify` inside their transactions. */
  readonly notifications: NotificationService;
  /** Sends the queued e-mail and webhook deliveries; `serve` starts it, tests call `runOnce`. */
  readonly notificationDelivery: DeliveryWorker;
  /** The exchange's grant check; caches only once started (start.ts starts it after bootstrap). */
  readonly grantCheck: GrantCheck;
  /** Acquisition (pull) under grants, on the exchange port. */
  readonly pull: PullService;
  /** Single-record verification (核验) under grants, on the exchange port. */
  readonly verify: VerifyService;
  /** Push subscriptions under grants: long-poll and acknowledge, or webhooks. */
  readonly subscriptions: SubscriptionService;
  /** Posts the batches of webhook subscriptions; `serve` starts it, tests call `runOnce`. */
  readonly pushDelivery: PushDelivery;
  /** Batch verification jobs and their worker; `serve` starts it, tests call `runOnce`. */
  readonly verifyJobs: VerifyJobService;
  /** Set by the process once it has bootstrapped and is ready to serve; `/readyz` waits for it. */
  #ready = false;

  private constructor(
    readonly database: DatabaseHandle,
    readonly config: Config,
    /** The master key that seals the platform's private keys in the database. */
    readonly keys: KeyRing,
    private readonly lock: DataDirLock | undefined,
    /** The platform's clock; services and routes read time only from it (tests move it). */
    readonly now: () => Date,
  ) {
    const db = database.db;
    this.audit = new AuditService(db, {
      keys,
      hashAlgorithm: config.auditHashAlgorithm,
      checkpointEvents: config.auditCheckpointEvents,
      now,
      copyOutStream: database.copyOutStream,
    });
    this.regions = new RegionService(db);
    this.calendar = new CalendarService(db, this.audit, now);
    this.agencies = new AgencyService(db, this.audit, this.regions, now);
    this.accounts = new AccountService(db, this.audit, this.agencies, config, keys, now);
    this.systems = new SystemService(db, this.audit, this.agencies, now);
    this.nodes = new NodeService(db, this.audit, this.agencies, now);
    this.pki = new PkiService(db, this.audit, keys, this.systems, this.nodes, this.agencies, this.accounts, config, now, new ListenedCache({ channel: IDENTITY_CHANNEL, listen: database.listen, now }));
    this.catalogSearch = new CatalogSearch(db);
    this.exchange = new ExchangeService(db, this.audit, keys, { cipher: config.exchangeCipher, shapes: new ListenedCache({ channel: TABLE_SHAPE_CHANNEL, listen: database.listen, now }) }, now);
    this.catalog = new CatalogService(db, this.audit, this.agencies, this.calendar, now, this.catalogSearch, this.exchange);
    this.demands = new DemandService(db, this.audit, this.agencies, this.catalog, now);
    this.notificationDelivery = new DeliveryWorker({
      db,
      keys,
      email: config.smtpUrl && config.smtpFrom ? new EmailSender({ url: config.smtpUrl, from: config.smtpFrom, timeoutMs: config.deliveryTimeoutMs }) : null,
      timeoutMs: config.deliveryTimeoutMs,
      maxAttempts: config.deliveryMaxAttempts,
      retryDelaysMs: parseRetryDelays(config.deliveryRetryDelays),
      pollMs: config.deliveryPollMs,
      now,
    });
    this.notifications = new NotificationService(db, this.audit, this.accounts, this.agencies, keys, { emailEnabled: config.smtpUrl !== undefined }, now, () => this.notificationDelivery.nudge());
    const systemLookup = { get: (id: string) => this.systems.get(SYSTEM_ACTOR, id) };
    this.blobs = blobStoreOf(config, process.env);
    this.attachments = new AttachmentService(db, this.audit, this.agencies, this.blobs, { maxBytes: config.attachmentMaxBytes }, now);
    this.grants = new GrantService(db, this.audit, this.agencies, { name: async (id) => (await systemLookup.get(id)).name }, this.notifications, now);
    this.requests = new ShareRequestService(
      db,
      this.audit,
      this.agencies,
      systemLookup,
      this.catalog,
      this.calendar,
      this.grants,
      this.attachments,
      this.notifications,
      {
        conformanceCheck: config.requestConformanceCheck,
        conformanceDays: config.requestConformanceDays,
        reviewDays: config.requestReviewDays,
        infoClock: config.requestInfoClock,
        reminderDays: config.requestReminderDays,
        grantExpiryReminderDays: config.grantExpiryReminderDays,
      },
      now,
    );
    this.grantCheck = new GrantCheck({ db, listen: database.listen, now });
    this.pull = new PullService(db, this.exchange, this.grantCheck, this.audit, now);
    this.verify = new VerifyService(this.exchange, this.grantCheck, this.audit);
    this.subscriptions = new SubscriptionService(db, this.exchange, this.grantCheck, this.audit, { batchRows: config.pushBatchRows }, now);
    this.pushDelivery = new PushDelivery({
      db,
      subscriptions: this.subscriptions,
      audit: this.audit,
      credentials: () => this.pki.platformClientCredentials(),
      maxAttempts: config.pushMaxAttempts,
      retryDelaysMs: parseRetryDelays(config.pushRetryDelays),
      timeoutMs: config.pushTimeoutMs,
      batchRows: config.pushBatchRows,
      pollMs: config.pushPollMs,
      now,
    });
    this.exchange.onChanged((resourceCode) => {
      this.subscriptions.changed(resourceCode);
      this.pushDelivery.nudge();
    });
    this.verifyJobs = new VerifyJobService(db, this.exchange, this.grantCheck, this.audit, keys, { maxBytes: config.verifyBatchMaxBytes }, now);
  }

  get db(): Db {
    return this.database.db;
  }

  /**
   * Opens the configured database (PGlite under the data directory, holding its lock, or the
   * PostgreSQL server of `DATABASE_URL`) and brings its schema up to date.
   */
  static async open(
    config: Config,
    options: { adminSocket?: string | null; now?: () => Date; migrate?: boolean; mayGenerateKey?: boolean } = {},
  ): Promise<{ platform: Platform; migration: MigrationResult | null }> {
    let lock: DataDirLock | undefined;
    let database: DatabaseHandle;
    if (config.databaseUrl) {
      database = await openDatabase({ kind: 'postgres', url: config.databaseUrl, poolSize: config.dbPoolSize });
    } else {
      lock = acquireDataDirLock(config.dataDir, options.adminSocket ?? null);
      try {
        database = await openDatabase({ kind: 'pglite', dir: pgliteDir(config.dataDir) });
      } catch (e) {
        lock.release();
        throw e;
      }
    }
    try {
      const migration = options.migrate === false ? null : await migrate(database.db);
      const keys = await KeyRing.open(database.db, {
        keyFile: config.masterKeyFile,
        passphraseFile: config.masterPassphraseFile,
        passphrase: config.masterPassphrase,
        dataDir: config.dataDir,
        mayGenerate: options.mayGenerateKey ?? true,
      });
      return { platform: new Platform(database, config, keys, lock, options.now ?? (() => new Date())), migration };
    } catch (e) {
      await database.close().catch(() => undefined);
      lock?.release();
      throw e;
    }
  }

  /** Wraps an already open (and migrated) database; for tests. */
  static fromDatabase(database: DatabaseHandle, config: Config, now: () => Date = () => new Date(), keys: KeyRing = KeyRing.ephemeral()): Platform {
    return new Platform(database, config, keys, undefined, now);
  }

  /**
   * Makes an empty platform usable, idempotently: loads the GB/T 2260 regions and the shipped
   * national holiday arrangements, and creates the first operator, security admin and auditor. Several servers starting at once on one
   * PostgreSQL serialise here on an advisory lock, so only one of them creates the accounts.
   */
  async bootstrap(): Promise<BootstrapResult> {
    const result = await this.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY}, 2)`.execute(trx);
      const regionsLoaded = await this.regions.syncPackaged(trx);
      const calendar = await this.calendar.syncNational(systemContext(), trx);
      const createdAdmins = await this.accounts.ensureInitialAdmins(systemContext(), trx);
      await this.accounts.sealStoredTotpSecrets(trx);
      await this.pki.ensureAuthority(trx);
      await trx
        .insertInto('platformSettings')
        .values({ key: INITIALISED_KEY, value: JSON.stringify(new Date().toISOString()) })
        .onConflict((oc) => oc.column('key').doNothing())
        .execute();
      return { regionsLoaded, calendar, createdAdmins };
    });
    // Chains the audit events of a database from before the hash chain, creates the signing key.
    await this.audit.prepare();
    return result;
  }

  /** Whether `bootstrap` has ever completed on this database (by any process). */
  async isInitialised(): Promise<boolean> {
    const row = await this.db.selectFrom('platformSettings').select('key').where('key', '=', INITIALISED_KEY).executeTakeFirst();
    return row !== undefined;
  }

  markReady(): void {
    this.#ready = true;
  }

  async readiness(): Promise<{ database: boolean; schema: SchemaStatus | null; bootstrapped: boolean; reason?: string }> {
    try {
      const schema = await schemaStatus(this.db);
      return { database: true, schema, bootstrapped: this.#ready };
    } catch (e) {
      return { database: false, schema: null, bootstrapped: this.#ready, reason: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * Starts the caches kept fresh through LISTEN: grant checks (govshare_grants), certificate
   * holders (govshare_identities) and shared tables' shapes (govshare_exchange_tables). Until
   * then each reads the database on every call.
   */
  async startCaches(): Promise<void> {
    await this.grantCheck.start();
    await this.pki.identities?.start();
    await this.exchange.shapes?.start();
  }

  async stopCaches(): Promise<void> {
    await this.grantCheck.stop();
    await this.pki.identities?.stop();
    await this.exchange.shapes?.stop();
  }

  async close(): Promise<void> {
    try {
      this.blobs.close();
      await this.notificationDelivery.stop();
      await this.pushDelivery.stop();
      await this.verifyJobs.stop();
      await this.stopCaches().catch(() => undefined);
      await this.database.close();
    } finally {
      this.lock?.release();
    }
  }
}
