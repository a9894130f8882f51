import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getHashes } from 'node:crypto';
import { AUDIT_HASH_ALGORITHMS, type AuditHashAlgorithm } from '../modules/audit/chain.js';
import { GsError } from '../lib/errors.js';
import { parseTarget } from '../modules/backup/location.js';
import { BACKUP_VERIFY_MODES, parseRetention, parseSchedule, type BackupVerifyMode } from '../modules/backup/schedule.js';
import { CA_KEY_ALGORITHMS, type CaKeyAlgorithm } from '../modules/pki/certificate-authority.js';
import { DATA_CIPHERS, type DataCipherName } from '../modules/exchange/data-cipher.js';
import { checkOneMasterKeySource } from '../modules/keys/key-ring.js';
import { MASTER_PASSPHRASE_ENV, MasterPassphrase } from '../modules/keys/passphrase.js';
import { INFO_CLOCKS, type InfoClock } from '../modules/requests/vocabulary.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const TOTP_POLICIES = ['admins', 'all'] as const;
export type TotpPolicy = (typeof TOTP_POLICIES)[number];

/** Every setting of a platform process, validated. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly exchangePort: number;
  /** Name (DNS name or IP address) clients use for the exchange port; its TLS certificate is issued for it. */
  readonly exchangeServerName: string | undefined;
  /** Validity of the client certificates the platform CA issues, in days. */
  readonly certificateValidityDays: number;
  /** Key algorithm of the platform CA when it is created: `ecdsa-p256` or `sm2`. */
  readonly caKeyAlgorithm: CaKeyAlgorithm;
  /** Embedded database and local files live here (ignored for the database when databaseUrl is set). */
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** File with the 32-byte master key (base64) that seals the platform's private keys. */
  readonly masterKeyFile: string | undefined;
  /** Instead of masterKeyFile: a file holding the passphrase the master key is derived from (scrypt). */
  readonly masterPassphraseFile: string | undefined;
  /** Instead of either: the passphrase itself, from GOVSHARE_MASTER_PASSPHRASE only (never from the config file). */
  readonly masterPassphrase: MasterPassphrase | undefined;
  /** File with the 32-byte backup key (base64) that encrypts backups; never the master key. */
  readonly backupKeyFile: string | undefined;
  /** Where `serve` writes scheduled backups (and `backup list`/`backup` look by default): a directory or `s3://bucket/prefix/`. */
  readonly backupTarget: string | undefined;
  /** When `serve` writes one: `HH:MM[,HH:MM…]` or `Nh`, server time zone (docs/backup.md); absent: never. */
  readonly backupSchedule: string | undefined;
  /** Which scheduled backups to keep: `N` newest and/or `Nd` days; absent: all. */
  readonly backupRetention: string | undefined;
  /** How each scheduled backup is checked after writing: read back and hashed, or also test-restored. */
  readonly backupVerify: BackupVerifyMode;
  /** S3-compatible object store for `s3://` targets; absent: AWS S3. */
  readonly backupS3Endpoint: string | undefined;
  readonly backupS3Region: string;
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most on-premise stores need. */
  readonly backupS3PathStyle: boolean;
  /** PEM file of the CA that issued the object store's TLS certificate. */
  readonly backupS3CaFile: string | undefined;
  /** File (owner-only) with the access key id and secret; or the environment (docs/backup.md). */
  readonly backupS3CredentialsFile: string | undefined;
  /** Where blobs (attachments, files) are kept: a directory or `s3://bucket/prefix/`; absent: `<dataDir>/blobs`. */
  readonly blobStore: string | undefined;
  /** S3-compatible object store for an `s3://` blob store; absent: AWS S3. As the backup's, separately. */
  readonly blobS3Endpoint: string | undefined;
  readonly blobS3Region: string;
  readonly blobS3PathStyle: boolean;
  readonly blobS3CaFile: string | undefined;
  readonly blobS3CredentialsFile: string | undefined;
  /** The largest attachment accepted (POST /attachments), in bytes. */
  readonly attachmentMaxBytes: number;
  /** The largest data file a provider loads into a shared table (POST /data/tables/:code/files), in bytes. */
  readonly dataLoadMaxBytes: number;
  /** The largest file of records a business system submits for batch verification (POST /exchange/v1/resources/:code/verify-jobs), in bytes. */
  readonly verifyBatchMaxBytes: number;
  /** How sensitive data items are encrypted in the shared tables: aes-256-gcm, or sm4 (SM4-CBC + HMAC-SHA256). */
  readonly exchangeCipher: DataCipherName;
  /** Connections each process keeps to the PostgreSQL server (the embedded database has one). */
  readonly dbPoolSize: number;
  readonly logLevel: LogLevel;
  readonly bodyLimitBytes: number;
  readonly sessionIdleMinutes: number;
  readonly sessionAbsoluteHours: number;
  /** `admins`: TOTP mandatory for operator/securityAdmin/auditor only; `all`: for every account. */
  readonly totpPolicy: TotpPolicy;
  /** Login attempts accepted per client address and minute, per process. */
  readonly loginAttemptsPerMinute: number;
  /** Mark the session cookie Secure (set when the console is served over HTTPS, e.g. behind a proxy). */
  readonly secureCookies: boolean;
  /**
   * Serve the console/API port over HTTPS itself, asking browsers for an optional client
   * certificate of the platform CA (certificate + password login). Cookies are then always Secure.
   */
  readonly consoleTls: boolean;
  /** The console port's own certificate chain (PEM) when `consoleTls`; absent: one issued by the platform CA. */
  readonly consoleTlsCertFile: string | undefined;
  /** Its private key (PEM), owner-only permissions. */
  readonly consoleTlsKeyFile: string | undefined;
  readonly trustProxy: boolean;
  readonly apiDocs: boolean;
  readonly shutdownTimeoutMs: number;
  /** Hash of the audit chain: `sha256`, or `sm3` where this Node.js offers it. */
  readonly auditHashAlgorithm: AuditHashAlgorithm;
  /** A signed audit checkpoint every this many events … */
  readonly auditCheckpointEvents: number;
  /** … and every this many seconds (when events were added), by each `serve` process. */
  readonly auditCheckpointSeconds: number;
  /** Conditional share requests go through the supervisor's conformance check before the provider's review. */
  readonly requestConformanceCheck: boolean;
  /** Working days the supervisor has for the conformance check. */
  readonly requestConformanceDays: number;
  /** Working days the provider has to decide a conditional request (国发〔2016〕51号: 10). */
  readonly requestReviewDays: number;
  /** What the review deadline does while the provider waits for information it asked for. */
  readonly requestInfoClock: InfoClock;
  /** Reviewers are reminded this many working days before a deadline. */
  readonly requestReminderDays: number;
  /** Consumers are reminded this many days before a grant ends, to ask for renewal. */
  readonly grantExpiryReminderDays: number;
  /** How often each `serve` process looks for deadlines to remind, escalate, and grants to expire. */
  readonly requestSweepSeconds: number;
  /** `smtp://user:pass@host:587` or `smtps://…`: the server notification e-mail goes through; absent: no e-mail. */
  readonly smtpUrl: string | undefined;
  /** The From address of notification e-mail (`govshare <noreply@example.gov.cn>`); needed with smtpUrl. */
  readonly smtpFrom: string | undefined;
  /** How long one delivery attempt (a webhook request, an SMTP connection step) may take. */
  readonly deliveryTimeoutMs: number;
  /** Attempts of a delivery before it is marked failed (an operator can retry it by hand). */
  readonly deliveryMaxAttempts: number;
  /** Waits between attempts, e.g. `30s,2m,10m,1h,3h,6h`; the last one repeats. */
  readonly deliveryRetryDelays: string;
  /** How often each `serve` process looks for due deliveries (a notice also wakes its own process at once). */
  readonly deliveryPollMs: number;
  /** Changes in one push batch when the consumer names no number, and in every webhook batch. */
  readonly pushBatchRows: number;
  /** How long a consumer's push webhook has to answer a batch. */
  readonly pushTimeoutMs: number;
  /** Attempts of one push batch before the subscription is dead-lettered (re-driven by hand). */
  readonly pushMaxAttempts: number;
  /** Waits between attempts of a push batch, e.g. `1s,5s,30s,2m,10m,30m`; the last one repeats. */
  readonly pushRetryDelays: string;
  /** How often each `serve` process looks for webhook subscriptions with changes waiting (a batch committed in the process wakes it at once). */
  readonly pushPollMs: number;
}

interface KeySpec {
  readonly env: string;
  readonly file: keyof Config;
  readonly parse: (raw: unknown) => unknown;
}

function integer(min: number, max: number) {
  return (raw: unknown): number => {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
    if (!Number.isInteger(n)) throw new Error(`must be a whole number, got ${JSON.stringify(raw)}`);
    if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
    return n;
  };
}

function port(raw: unknown): number {
  return integer(1, 65535)(raw);
}

function text(raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw new Error('must be a non-empty string');
  return raw.trim();
}

function oneOf<T extends string>(values: readonly T[]) {
  return (raw: unknown): T => {
    if (typeof raw === 'string' && (values as readonly string[]).includes(raw)) return raw as T;
    throw new Error(`must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`);
  };
}

function bool(raw: unknown): boolean {
  if (typeof raw === 'boolean') return raw;
  if (typeof raw === 'string' && ['true', '1', 'yes', 'on'].includes(raw.toLowerCase())) return true;
  if (typeof raw === 'string' && ['false', '0', 'no', 'off'].includes(raw.toLowerCase())) return false;
  throw new Error(`must be true or false, got ${JSON.stringify(raw)}`);
}

function host(raw: unknown): string {
  const h = text(raw);
  if (!/^[A-Za-z0-9.:-]+$/.test(h)) throw new Error(`is not a host name or IP address: ${JSON.stringify(raw)}`);
  return h;
}

function databaseUrl(raw: unknown): string {
  const s = text(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error('is not a URL (expected postgres://user@host:port/database)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') {
    throw new Error(`must use the postgres:// scheme, got ${u.protocol}`);
  }
  if (u.pathname.length <= 1) throw new Error('names no database (expected postgres://user@host:port/database)');
  return s;
}

/** A directory or `s3://bucket/prefix/` (backup target, blob store). */
function backupTarget(raw: unknown): string {
  const t = text(raw);
  parseTarget(t);
  return t;
}

/** A parsed schedule or retention is rebuilt where used; the setting keeps the operator's text. */
function checkedBy(parse: (text: string) => unknown) {
  return (raw: unknown): string => {
    const t = text(raw);
    parse(t);
    return t;
  };
}

function s3Endpoint(raw: unknown): string {
  const s = text(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error('is not a URL (expected e.g. https://minio.internal:9000)');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`must use https:// (or http://), got ${u.protocol}`);
  if (u.pathname.length > 1 || u.search || u.username) throw new Error('must be the server only (scheme, host, port), without a bucket, path or credentials');
  return s.replace(/\/$/, '');
}

function auditHashAlgorithm(raw: unknown): AuditHashAlgorithm {
  const alg = oneOf(AUDIT_HASH_ALGORITHMS)(raw);
  if (!getHashes().includes(alg)) throw new Error(`${alg} is not offered by this Node.js (its OpenSSL has no ${alg})`);
  return alg;
}

function smtpUrl(raw: unknown): string {
  const s = text(raw);
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new Error('is not a URL (expected smtp://user:password@host:587 or smtps://…)');
  }
  if (u.protocol !== 'smtp:' && u.protocol !== 'smtps:') throw new Error(`must use smtp:// or smtps://, got ${u.protocol}`);
  if (!u.hostname) throw new Error('names no host');
  return s;
}

/** `30s,2m,10m,1h`: durations with a unit (s, m, h), in milliseconds. */
export function parseRetryDelays(raw: string): number[] {
  const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 };
  const delays = raw.split(',').map((part) => {
    const m = /^\s*(\d{1,6})\s*([smh])\s*$/.exec(part);
    if (!m) throw new Error(`${JSON.stringify(part)} is not a duration like 30s, 2m or 1h`);
    return Number(m[1]) * units[m[2]!]!;
  });
  if (delays.length === 0 || delays.some((d) => d <= 0)) throw new Error('needs at least one positive duration');
  return delays;
}

/** The documented settings: environment variable, config-file key, parser. See docs/configuration.md. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { env: 'GOVSHARE_HOST', file: 'host', parse: host },
  { env: 'GOVSHARE_PORT', file: 'port', parse: port },
  { env: 'GOVSHARE_EXCHANGE_PORT', file: 'exchangePort', parse: port },
  { env: 'GOVSHARE_EXCHANGE_SERVER_NAME', file: 'exchangeServerName', parse: host },
  { env: 'GOVSHARE_CERT_VALIDITY_DAYS', file: 'certificateValidityDays', parse: integer(1, 825) },
  { env: 'GOVSHARE_CA_KEY_ALGORITHM', file: 'caKeyAlgorithm', parse: oneOf(CA_KEY_ALGORITHMS) },
  { env: 'GOVSHARE_DATA_DIR', file: 'dataDir', parse: text },
  { env: 'DATABASE_URL', file: 'databaseUrl', parse: databaseUrl },
  { env: 'GOVSHARE_MASTER_KEY_FILE', file: 'masterKeyFile', parse: text },
  { env: 'GOVSHARE_MASTER_PASSPHRASE_FILE', file: 'masterPassphraseFile', parse: text },
  { env: 'GOVSHARE_BACKUP_KEY_FILE', file: 'backupKeyFile', parse: text },
  { env: 'GOVSHARE_BACKUP_TARGET', file: 'backupTarget', parse: backupTarget },
  { env: 'GOVSHARE_BACKUP_SCHEDULE', file: 'backupSchedule', parse: checkedBy(parseSchedule) },
  { env: 'GOVSHARE_BACKUP_RETENTION', file: 'backupRetention', parse: checkedBy(parseRetention) },
  { env: 'GOVSHARE_BACKUP_VERIFY', file: 'backupVerify', parse: oneOf(BACKUP_VERIFY_MODES) },
  { env: 'GOVSHARE_BACKUP_S3_ENDPOINT', file: 'backupS3Endpoint', parse: s3Endpoint },
  { env: 'GOVSHARE_BACKUP_S3_REGION', file: 'backupS3Region', parse: text },
  { env: 'GOVSHARE_BACKUP_S3_PATH_STYLE', file: 'backupS3PathStyle', parse: bool },
  { env: 'GOVSHARE_BACKUP_S3_CA_FILE', file: 'backupS3CaFile', parse: text },
  { env: 'GOVSHARE_BACKUP_S3_CREDENTIALS_FILE', file: 'backupS3CredentialsFile', parse: text },
  { env: 'GOVSHARE_BLOB_STORE', file: 'blobStore', parse: backupTarget },
  { env: 'GOVSHARE_BLOB_S3_ENDPOINT', file: 'blobS3Endpoint', parse: s3Endpoint },
  { env: 'GOVSHARE_BLOB_S3_REGION', file: 'blobS3Region', parse: text },
  { env: 'GOVSHARE_BLOB_S3_PATH_STYLE', file: 'blobS3PathStyle', parse: bool },
  { env: 'GOVSHARE_BLOB_S3_CA_FILE', file: 'blobS3CaFile', parse: text },
  { env: 'GOVSHARE_BLOB_S3_CREDENTIALS_FILE', file: 'blobS3CredentialsFile', parse: text },
  // At most 5 GiB: an object store copies an object of that size at most in one request.
  { env: 'GOVSHARE_ATTACHMENT_MAX_BYTES', file: 'attachmentMaxBytes', parse: integer(1, 5 * 1024 * 1024 * 1024) },
  { env: 'GOVSHARE_DATA_LOAD_MAX_BYTES', file: 'dataLoadMaxBytes', parse: integer(1024, 50 * 1024 * 1024 * 1024) },
  // At most 512 MiB: the file is kept sealed (base64, a third larger) in one database value.
  { env: 'GOVSHARE_VERIFY_BATCH_MAX_BYTES', file: 'verifyBatchMaxBytes', parse: integer(1024, 512 * 1024 * 1024) },
  { env: 'GOVSHARE_EXCHANGE_CIPHER', file: 'exchangeCipher', parse: oneOf(DATA_CIPHERS) },
  { env: 'GOVSHARE_DB_POOL_SIZE', file: 'dbPoolSize', parse: integer(1, 1000) },
  { env: 'GOVSHARE_LOG_LEVEL', file: 'logLevel', parse: oneOf(LOG_LEVELS) },
  { env: 'GOVSHARE_BODY_LIMIT', file: 'bodyLimitBytes', parse: integer(1024, 1024 * 1024 * 1024) },
  { env: 'GOVSHARE_SESSION_IDLE_MINUTES', file: 'sessionIdleMinutes', parse: integer(1, 24 * 60) },
  { env: 'GOVSHARE_SESSION_ABSOLUTE_HOURS', file: 'sessionAbsoluteHours', parse: integer(1, 24 * 7) },
  { env: 'GOVSHARE_TOTP_POLICY', file: 'totpPolicy', parse: oneOf(TOTP_POLICIES) },
  { env: 'GOVSHARE_LOGIN_ATTEMPTS_PER_MINUTE', file: 'loginAttemptsPerMinute', parse: integer(1, 1_000_000) },
  { env: 'GOVSHARE_SECURE_COOKIES', file: 'secureCookies', parse: bool },
  { env: 'GOVSHARE_CONSOLE_TLS', file: 'consoleTls', parse: bool },
  { env: 'GOVSHARE_CONSOLE_TLS_CERT_FILE', file: 'consoleTlsCertFile', parse: text },
  { env: 'GOVSHARE_CONSOLE_TLS_KEY_FILE', file: 'consoleTlsKeyFile', parse: text },
  { env: 'GOVSHARE_TRUST_PROXY', file: 'trustProxy', parse: bool },
  { env: 'GOVSHARE_API_DOCS', file: 'apiDocs', parse: bool },
  { env: 'GOVSHARE_SHUTDOWN_TIMEOUT_MS', file: 'shutdownTimeoutMs', parse: integer(100, 600_000) },
  { env: 'GOVSHARE_AUDIT_HASH_ALGORITHM', file: 'auditHashAlgorithm', parse: auditHashAlgorithm },
  { env: 'GOVSHARE_AUDIT_CHECKPOINT_EVENTS', file: 'auditCheckpointEvents', parse: integer(1, 10_000_000) },
  { env: 'GOVSHARE_AUDIT_CHECKPOINT_SECONDS', file: 'auditCheckpointSeconds', parse: integer(1, 86_400) },
  { env: 'GOVSHARE_REQUEST_CONFORMANCE_CHECK', file: 'requestConformanceCheck', parse: bool },
  { env: 'GOVSHARE_REQUEST_CONFORMANCE_DAYS', file: 'requestConformanceDays', parse: integer(1, 60) },
  { env: 'GOVSHARE_REQUEST_REVIEW_DAYS', file: 'requestReviewDays', parse: integer(1, 60) },
  { env: 'GOVSHARE_REQUEST_INFO_CLOCK', file: 'requestInfoClock', parse: oneOf(INFO_CLOCKS) },
  { env: 'GOVSHARE_REQUEST_REMINDER_DAYS', file: 'requestReminderDays', parse: integer(0, 30) },
  { env: 'GOVSHARE_GRANT_EXPIRY_REMINDER_DAYS', file: 'grantExpiryReminderDays', parse: integer(0, 365) },
  { env: 'GOVSHARE_REQUEST_SWEEP_SECONDS', file: 'requestSweepSeconds', parse: integer(5, 86_400) },
  { env: 'GOVSHARE_SMTP_URL', file: 'smtpUrl', parse: smtpUrl },
  { env: 'GOVSHARE_SMTP_FROM', file: 'smtpFrom', parse: text },
  { env: 'GOVSHARE_DELIVERY_TIMEOUT_MS', file: 'deliveryTimeoutMs', parse: integer(100, 300_000) },
  { env: 'GOVSHARE_DELIVERY_MAX_ATTEMPTS', file: 'deliveryMaxAttempts', parse: integer(1, 100) },
  { env: 'GOVSHARE_DELIVERY_RETRY_DELAYS', file: 'deliveryRetryDelays', parse: checkedBy(parseRetryDelays) },
  { env: 'GOVSHARE_DELIVERY_POLL_MS', file: 'deliveryPollMs', parse: integer(100, 3_600_000) },
  { env: 'GOVSHARE_PUSH_BATCH_ROWS', file: 'pushBatchRows', parse: integer(1, 10_000) },
  { env: 'GOVSHARE_PUSH_TIMEOUT_MS', file: 'pushTimeoutMs', parse: integer(100, 300_000) },
  { env: 'GOVSHARE_PUSH_MAX_ATTEMPTS', file: 'pushMaxAttempts', parse: integer(1, 100) },
  { env: 'GOVSHARE_PUSH_RETRY_DELAYS', file: 'pushRetryDelays', parse: checkedBy(parseRetryDelays) },
  { env: 'GOVSHARE_PUSH_POLL_MS', file: 'pushPollMs', parse: integer(100, 3_600_000) },
];

export const DEFAULT_CONFIG: Config = {
  host: '127.0.0.1',
  port: 8080,
  exchangePort: 8443,
  exchangeServerName: undefined,
  certificateValidityDays: 365,
  caKeyAlgorithm: 'ecdsa-p256',
  dataDir: './data',
  databaseUrl: undefined,
  masterKeyFile: undefined,
  masterPassphraseFile: undefined,
  masterPassphrase: undefined,
  backupKeyFile: undefined,
  backupTarget: undefined,
  backupSchedule: undefined,
  backupRetention: undefined,
  backupVerify: 'hash',
  backupS3Endpoint: undefined,
  backupS3Region: 'us-east-1',
  backupS3PathStyle: true,
  backupS3CaFile: undefined,
  backupS3CredentialsFile: undefined,
  blobStore: undefined,
  blobS3Endpoint: undefined,
  blobS3Region: 'us-east-1',
  blobS3PathStyle: true,
  blobS3CaFile: undefined,
  blobS3CredentialsFile: undefined,
  attachmentMaxBytes: 20 * 1024 * 1024,
  dataLoadMaxBytes: 1024 * 1024 * 1024,
  verifyBatchMaxBytes: 256 * 1024 * 1024,
  exchangeCipher: 'aes-256-gcm',
  dbPoolSize: 10,
  logLevel: 'info',
  bodyLimitBytes: 1024 * 1024,
  sessionIdleMinutes: 30,
  sessionAbsoluteHours: 12,
  totpPolicy: 'admins',
  loginAttemptsPerMinute: 20,
  secureCookies: false,
  consoleTls: false,
  consoleTlsCertFile: undefined,
  consoleTlsKeyFile: undefined,
  trustProxy: false,
  apiDocs: true,
  shutdownTimeoutMs: 10_000,
  auditHashAlgorithm: 'sha256',
  auditCheckpointEvents: 1000,
  auditCheckpointSeconds: 60,
  requestConformanceCheck: false,
  requestConformanceDays: 2,
  requestReviewDays: 10,
  requestInfoClock: 'pause',
  requestReminderDays: 2,
  grantExpiryReminderDays: 30,
  requestSweepSeconds: 60,
  smtpUrl: undefined,
  smtpFrom: undefined,
  deliveryTimeoutMs: 10_000,
  deliveryMaxAttempts: 8,
  deliveryRetryDelays: '30s,2m,10m,1h,3h,6h',
  deliveryPollMs: 2_000,
  pushBatchRows: 1000,
  pushTimeoutMs: 30_000,
  pushMaxAttempts: 8,
  pushRetryDelays: '1s,5s,30s,2m,10m,30m',
  pushPollMs: 2_000,
};

export interface ConfigSources {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Path of a JSON config file; `GOVSHARE_CONFIG` in env is used when absent. */
  readonly file?: string | undefined;
  /** Highest precedence, e.g. from command-line flags. */
  readonly overrides?: Partial<Record<keyof Config, unknown>>;
}

/**
 * Precedence: defaults < config file < environment < overrides. Every value is validated; the
 * first problem throws GS_ERR_CONFIG_INVALID naming the variable or key.
 */
export function loadConfig(sources: ConfigSources): Config {
  const values: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const filePath = sources.file ?? sources.env.GOVSHARE_CONFIG;
  if (filePath !== undefined && filePath !== '') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(filePath, 'utf8'));
    } catch (e) {
      throw new GsError('GS_ERR_CONFIG_FILE', { path: filePath, reason: e instanceof Error ? e.message : String(e) });
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw new GsError('GS_ERR_CONFIG_FILE', { path: filePath, reason: 'the file must hold one JSON object' });
    }
    const known = new Set<string>(CONFIG_KEYS.map((k) => k.file));
    for (const [key, raw] of Object.entries(parsed)) {
      if (key === 'masterPassphrase') {
        // A config file is read by many and copied about; a secret in it is not a secret for long.
        throw new GsError('GS_ERR_CONFIG_INVALID', { key: `${filePath}: ${key}`, reason: `the passphrase is never read from the config file; give it in the environment (${MASTER_PASSPHRASE_ENV}) or in a file named by masterPassphraseFile` });
      }
      if (!known.has(key)) {
        throw new GsError('GS_ERR_CONFIG_INVALID', { key: `${filePath}: ${key}`, reason: 'unknown setting' });
      }
      values[key] = parseKey(CONFIG_KEYS.find((k) => k.file === key)!, raw, `${filePath}: ${key}`);
    }
  }
  for (const spec of CONFIG_KEYS) {
    const raw = sources.env[spec.env];
    if (raw === undefined || raw === '') continue;
    values[spec.file] = parseKey(spec, raw, spec.env);
  }
  const passphrase = sources.env[MASTER_PASSPHRASE_ENV];
  if (passphrase !== undefined && passphrase !== '') values.masterPassphrase = new MasterPassphrase(passphrase, MASTER_PASSPHRASE_ENV);
  for (const [key, raw] of Object.entries(sources.overrides ?? {})) {
    if (raw === undefined) continue;
    const spec = CONFIG_KEYS.find((k) => k.file === key);
    values[key] = spec ? parseKey(spec, raw, `--${key}`) : raw;
  }
  const config = values as unknown as Config;
  checkOneMasterKeySource({ keyFile: config.masterKeyFile, passphraseFile: config.masterPassphraseFile, passphrase: config.masterPassphrase });
  if (config.port === config.exchangePort) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_EXCHANGE_PORT', reason: `must differ from GOVSHARE_PORT (${config.port})` });
  }
  if ((config.consoleTlsCertFile === undefined) !== (config.consoleTlsKeyFile === undefined)) {
    const missing = config.consoleTlsCertFile === undefined ? 'GOVSHARE_CONSOLE_TLS_CERT_FILE' : 'GOVSHARE_CONSOLE_TLS_KEY_FILE';
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: missing, reason: 'the console certificate and its key are given together or not at all' });
  }
  if (config.smtpUrl !== undefined && config.smtpFrom === undefined) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_SMTP_FROM', reason: 'is needed with GOVSHARE_SMTP_URL: the From address of notification e-mail' });
  }
  if (config.consoleTlsCertFile !== undefined && !config.consoleTls) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_CONSOLE_TLS', reason: 'a console certificate is configured but GOVSHARE_CONSOLE_TLS is off; turn it on or remove the certificate' });
  }
  return { ...config, dataDir: resolve(config.dataDir) };
}

function parseKey(spec: KeySpec, raw: unknown, label: string): unknown {
  try {
    return spec.parse(raw);
  } catch (e) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: label, reason: e instanceof Error ? e.message : String(e) });
  }
}
