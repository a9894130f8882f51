import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { getHashes } from 'node:crypto';
import { AUDIT_HASH_ALGORITHMS, type AuditHashAlgorithm } from '../modules/audit/chain.js';
import { GsError } from '../lib/errors.js';

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
  /** Embedded database and local files live here (ignored for the database when databaseUrl is set). */
  readonly dataDir: string;
  readonly databaseUrl: string | undefined;
  /** File with the 32-byte master key (base64) that seals the platform's private keys. */
  readonly masterKeyFile: string | undefined;
  /** File with the 32-byte backup key (base64) that encrypts backups; never the master key. */
  readonly backupKeyFile: string | undefined;
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
  readonly trustProxy: boolean;
  readonly apiDocs: boolean;
  readonly shutdownTimeoutMs: number;
  /** Hash of the audit chain: `sha256`, or `sm3` where this Node.js offers it. */
  readonly auditHashAlgorithm: AuditHashAlgorithm;
  /** A signed audit checkpoint every this many events … */
  readonly auditCheckpointEvents: number;
  /** … and every this many seconds (when events were added), by each `serve` process. */
  readonly auditCheckpointSeconds: number;
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

function auditHashAlgorithm(raw: unknown): AuditHashAlgorithm {
  const alg = oneOf(AUDIT_HASH_ALGORITHMS)(raw);
  if (!getHashes().includes(alg)) throw new Error(`${alg} is not offered by this Node.js (its OpenSSL has no ${alg})`);
  return alg;
}

/** The documented settings: environment variable, config-file key, parser. See docs/configuration.md. */
export const CONFIG_KEYS: readonly KeySpec[] = [
  { env: 'GOVSHARE_HOST', file: 'host', parse: host },
  { env: 'GOVSHARE_PORT', file: 'port', parse: port },
  { env: 'GOVSHARE_EXCHANGE_PORT', file: 'exchangePort', parse: port },
  { env: 'GOVSHARE_EXCHANGE_SERVER_NAME', file: 'exchangeServerName', parse: host },
  { env: 'GOVSHARE_CERT_VALIDITY_DAYS', file: 'certificateValidityDays', parse: integer(1, 825) },
  { env: 'GOVSHARE_DATA_DIR', file: 'dataDir', parse: text },
  { env: 'DATABASE_URL', file: 'databaseUrl', parse: databaseUrl },
  { env: 'GOVSHARE_MASTER_KEY_FILE', file: 'masterKeyFile', parse: text },
  { env: 'GOVSHARE_BACKUP_KEY_FILE', file: 'backupKeyFile', parse: text },
  { env: 'GOVSHARE_DB_POOL_SIZE', file: 'dbPoolSize', parse: integer(1, 1000) },
  { env: 'GOVSHARE_LOG_LEVEL', file: 'logLevel', parse: oneOf(LOG_LEVELS) },
  { env: 'GOVSHARE_BODY_LIMIT', file: 'bodyLimitBytes', parse: integer(1024, 1024 * 1024 * 1024) },
  { env: 'GOVSHARE_SESSION_IDLE_MINUTES', file: 'sessionIdleMinutes', parse: integer(1, 24 * 60) },
  { env: 'GOVSHARE_SESSION_ABSOLUTE_HOURS', file: 'sessionAbsoluteHours', parse: integer(1, 24 * 7) },
  { env: 'GOVSHARE_TOTP_POLICY', file: 'totpPolicy', parse: oneOf(TOTP_POLICIES) },
  { env: 'GOVSHARE_LOGIN_ATTEMPTS_PER_MINUTE', file: 'loginAttemptsPerMinute', parse: integer(1, 1_000_000) },
  { env: 'GOVSHARE_SECURE_COOKIES', file: 'secureCookies', parse: bool },
  { env: 'GOVSHARE_TRUST_PROXY', file: 'trustProxy', parse: bool },
  { env: 'GOVSHARE_API_DOCS', file: 'apiDocs', parse: bool },
  { env: 'GOVSHARE_SHUTDOWN_TIMEOUT_MS', file: 'shutdownTimeoutMs', parse: integer(100, 600_000) },
  { env: 'GOVSHARE_AUDIT_HASH_ALGORITHM', file: 'auditHashAlgorithm', parse: auditHashAlgorithm },
  { env: 'GOVSHARE_AUDIT_CHECKPOINT_EVENTS', file: 'auditCheckpointEvents', parse: integer(1, 10_000_000) },
  { env: 'GOVSHARE_AUDIT_CHECKPOINT_SECONDS', file: 'auditCheckpointSeconds', parse: integer(1, 86_400) },
];

export const DEFAULT_CONFIG: Config = {
  host: '127.0.0.1',
  port: 8080,
  exchangePort: 8443,
  exchangeServerName: undefined,
  certificateValidityDays: 365,
  dataDir: './data',
  databaseUrl: undefined,
  masterKeyFile: undefined,
  backupKeyFile: undefined,
  dbPoolSize: 10,
  logLevel: 'info',
  bodyLimitBytes: 1024 * 1024,
  sessionIdleMinutes: 30,
  sessionAbsoluteHours: 12,
  totpPolicy: 'admins',
  loginAttemptsPerMinute: 20,
  secureCookies: false,
  trustProxy: false,
  apiDocs: true,
  shutdownTimeoutMs: 10_000,
  auditHashAlgorithm: 'sha256',
  auditCheckpointEvents: 1000,
  auditCheckpointSeconds: 60,
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
  for (const [key, raw] of Object.entries(sources.overrides ?? {})) {
    if (raw === undefined) continue;
    const spec = CONFIG_KEYS.find((k) => k.file === key);
    values[key] = spec ? parseKey(spec, raw, `--${key}`) : raw;
  }
  const config = values as unknown as Config;
  if (config.port === config.exchangePort) {
    throw new GsError('GS_ERR_CONFIG_INVALID', { key: 'GOVSHARE_EXCHANGE_PORT', reason: `must differ from GOVSHARE_PORT (${config.port})` });
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
