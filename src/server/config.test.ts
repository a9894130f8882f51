import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GsError, type ErrorCode } from '../lib/errors.js';
import { CONFIG_KEYS, DEFAULT_CONFIG, loadConfig, parseRetryDelays, type ConfigSources } from './config.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gs-config-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function configFile(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function failure(sources: ConfigSources): GsError {
  try {
    loadConfig(sources);
  } catch (e) {
    if (e instanceof GsError) return e;
    throw e;
  }
  throw new Error('loadConfig accepted the sources');
}

function expectRefused(sources: ConfigSources, code: ErrorCode, key: string): GsError {
  const e = failure(sources);
  expect(e.code).toBe(code);
  expect(e.message).toContain(key);
  return e;
}

describe('loadConfig defaults', () => {
  it('listens on 127.0.0.1:8080 with the exchange port 8443 and keeps data in ./data, resolved', () => {
    const c = loadConfig({ env: {} });
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8080);
    expect(c.exchangePort).toBe(8443);
    expect(isAbsolute(c.dataDir)).toBe(true);
    expect(c.dataDir).toBe(resolve('data'));
    expect(c.databaseUrl).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect(c.totpPolicy).toBe('admins');
    expect(c.secureCookies).toBe(false);
  });

  it('returns every default except the resolved data directory unchanged', () => {
    expect({ ...loadConfig({ env: {} }), dataDir: DEFAULT_CONFIG.dataDir }).toEqual(DEFAULT_CONFIG);
  });

  it('treats an empty environment variable as unset', () => {
    expect(loadConfig({ env: { GOVSHARE_PORT: '', DATABASE_URL: '' } }).port).toBe(8080);
  });
});

describe('loadConfig from the environment', () => {
  it('takes each documented variable', () => {
    const c = loadConfig({
      env: {
        GOVSHARE_HOST: '0.0.0.0',
        GOVSHARE_PORT: '9080',
        GOVSHARE_EXCHANGE_PORT: '9443',
        GOVSHARE_EXCHANGE_SERVER_NAME: 'exchange.gov.example',
        GOVSHARE_CERT_VALIDITY_DAYS: '90',
        GOVSHARE_DATA_DIR: '/var/lib/govshare',
        DATABASE_URL: 'postgres://gs:pw@db.internal:5432/govshare',
        GOVSHARE_DB_POOL_SIZE: '25',
        GOVSHARE_LOG_LEVEL: 'debug',
        GOVSHARE_BODY_LIMIT: '2048',
        GOVSHARE_SESSION_IDLE_MINUTES: '15',
        GOVSHARE_SESSION_ABSOLUTE_HOURS: '8',
        GOVSHARE_TOTP_POLICY: 'all',
        GOVSHARE_LOGIN_ATTEMPTS_PER_MINUTE: '7',
        GOVSHARE_SECURE_COOKIES: 'yes',
        GOVSHARE_TRUST_PROXY: 'true',
        GOVSHARE_API_DOCS: 'off',
        GOVSHARE_SHUTDOWN_TIMEOUT_MS: '500',
        GOVSHARE_AUDIT_HASH_ALGORITHM: 'sm3',
        GOVSHARE_AUDIT_CHECKPOINT_EVENTS: '250',
        GOVSHARE_AUDIT_CHECKPOINT_SECONDS: '30',
        GOVSHARE_CA_KEY_ALGORITHM: 'sm2',
        GOVSHARE_CONSOLE_TLS: 'true',
        GOVSHARE_CONSOLE_TLS_CERT_FILE: '/etc/govshare/console.pem',
        GOVSHARE_CONSOLE_TLS_KEY_FILE: '/etc/govshare/console.key',
        GOVSHARE_MASTER_KEY_FILE: '/etc/govshare/master.key',
        GOVSHARE_BACKUP_KEY_FILE: '/etc/govshare/backup.key',
        GOVSHARE_BACKUP_TARGET: '/srv/backups',
        GOVSHARE_BACKUP_SCHEDULE: '02:30',
        GOVSHARE_BACKUP_RETENTION: '7',
        GOVSHARE_BACKUP_VERIFY: 'restore',
        GOVSHARE_BACKUP_S3_ENDPOINT: 'https://oss.gov.example',
        GOVSHARE_BACKUP_S3_REGION: 'cn-north-1',
        GOVSHARE_BACKUP_S3_PATH_STYLE: 'false',
        GOVSHARE_BACKUP_S3_CA_FILE: '/etc/govshare/oss-ca.pem',
        GOVSHARE_BACKUP_S3_CREDENTIALS_FILE: '/etc/govshare/oss.credentials',
        GOVSHARE_REQUEST_CONFORMANCE_CHECK: 'on',
        GOVSHARE_REQUEST_CONFORMANCE_DAYS: '3',
        GOVSHARE_REQUEST_REVIEW_DAYS: '5',
        GOVSHARE_REQUEST_INFO_CLOCK: 'restart',
        GOVSHARE_REQUEST_REMINDER_DAYS: '1',
        GOVSHARE_GRANT_EXPIRY_REMINDER_DAYS: '14',
        GOVSHARE_REQUEST_SWEEP_SECONDS: '300',
        GOVSHARE_BLOB_STORE: 's3://govshare-files/hengyang/',
        GOVSHARE_BLOB_S3_ENDPOINT: 'https://files.gov.example',
        GOVSHARE_BLOB_S3_REGION: 'cn-south-1',
        GOVSHARE_BLOB_S3_PATH_STYLE: 'false',
        GOVSHARE_BLOB_S3_CA_FILE: '/etc/govshare/files-ca.pem',
        GOVSHARE_BLOB_S3_CREDENTIALS_FILE: '/etc/govshare/files.credentials',
        GOVSHARE_ATTACHMENT_MAX_BYTES: '1048576',
        GOVSHARE_DATA_LOAD_MAX_BYTES: '2097152',
        GOVSHARE_VERIFY_BATCH_MAX_BYTES: '3145728',
        GOVSHARE_EXCHANGE_CIPHER: 'sm4',
        GOVSHARE_SMTP_URL: 'smtp://noreply:secret@mail.gov.example:587',
        GOVSHARE_SMTP_FROM: 'noreply@gov.example',
        GOVSHARE_DELIVERY_TIMEOUT_MS: '5000',
        GOVSHARE_DELIVERY_MAX_ATTEMPTS: '5',
        GOVSHARE_DELIVERY_RETRY_DELAYS: '1m,5m',
        GOVSHARE_DELIVERY_POLL_MS: '1000',
        GOVSHARE_PUSH_BATCH_ROWS: '500',
        GOVSHARE_PUSH_TIMEOUT_MS: '8000',
        GOVSHARE_PUSH_MAX_ATTEMPTS: '4',
        GOVSHARE_PUSH_RETRY_DELAYS: '5s,1m',
        GOVSHARE_PUSH_POLL_MS: '500',
      },
    });
    expect(c).toEqual({
      host: '0.0.0.0',
      port: 9080,
      exchangePort: 9443,
      exchangeServerName: 'exchange.gov.example',
      certificateValidityDays: 90,
      dataDir: '/var/lib/govshare',
      databaseUrl: 'postgres://gs:pw@db.internal:5432/govshare',
      dbPoolSize: 25,
      logLevel: 'debug',
      bodyLimitBytes: 2048,
      sessionIdleMinutes: 15,
      sessionAbsoluteHours: 8,
      totpPolicy: 'all',
      loginAttemptsPerMinute: 7,
      secureCookies: true,
      trustProxy: true,
      apiDocs: false,
      shutdownTimeoutMs: 500,
      auditHashAlgorithm: 'sm3',
      auditCheckpointEvents: 250,
      auditCheckpointSeconds: 30,
      caKeyAlgorithm: 'sm2',
      consoleTls: true,
      consoleTlsCertFile: '/etc/govshare/console.pem',
      consoleTlsKeyFile: '/etc/govshare/console.key',
      masterKeyFile: '/etc/govshare/master.key',
      masterPassphraseFile: undefined,
      masterPassphrase: undefined,
      backupKeyFile: '/etc/govshare/backup.key',
      backupTarget: '/srv/backups',
      backupSchedule: '02:30',
      backupRetention: '7',
      backupVerify: 'restore',
      backupS3Endpoint: 'https://oss.gov.example',
      backupS3Region: 'cn-north-1',
      backupS3PathStyle: false,
      smtpUrl: 'smtp://noreply:secret@mail.gov.example:587',
      smtpFrom: 'noreply@gov.example',
      deliveryTimeoutMs: 5000,
      deliveryMaxAttempts: 5,
      deliveryRetryDelays: '1m,5m',
      deliveryPollMs: 1000,
      pushBatchRows: 500,
      pushTimeoutMs: 8000,
      pushMaxAttempts: 4,
      pushRetryDelays: '5s,1m',
      pushPollMs: 500,
      backupS3CaFile: '/etc/govshare/oss-ca.pem',
      backupS3CredentialsFile: '/etc/govshare/oss.credentials',
      requestConformanceCheck: true,
      requestConformanceDays: 3,
      requestReviewDays: 5,
      requestInfoClock: 'restart',
      requestReminderDays: 1,
      grantExpiryReminderDays: 14,
      requestSweepSeconds: 300,
      blobStore: 's3://govshare-files/hengyang/',
      blobS3Endpoint: 'https://files.gov.example',
      blobS3Region: 'cn-south-1',
      blobS3PathStyle: false,
      blobS3CaFile: '/etc/govshare/files-ca.pem',
      blobS3CredentialsFile: '/etc/govshare/files.credentials',
      attachmentMaxBytes: 1048576,
      dataLoadMaxBytes: 2097152,
      verifyBatchMaxBytes: 3145728,
      exchangeCipher: 'sm4',
    });
  });

  it('resolves a relative data directory to an absolute path', () => {
    expect(loadConfig({ env: { GOVSHARE_DATA_DIR: 'var/gs' } }).dataDir).toBe(resolve('var/gs'));
  });

  it('lets overrides (command-line flags) win over the environment', () => {
    const c = loadConfig({ env: { GOVSHARE_PORT: '9080' }, overrides: { port: 7070 } });
    expect(c.port).toBe(7070);
  });
});

describe('loadConfig from a JSON file', () => {
  it('reads the file named by GOVSHARE_CONFIG, with the environment taking precedence', () => {
    const path = configFile('govshare.json', { port: 9000, exchangePort: 9001, logLevel: 'warn', dataDir: '/srv/gs', totpPolicy: 'all' });
    const fromFile = loadConfig({ env: { GOVSHARE_CONFIG: path } });
    expect(fromFile.port).toBe(9000);
    expect(fromFile.exchangePort).toBe(9001);
    expect(fromFile.logLevel).toBe('warn');
    expect(fromFile.dataDir).toBe('/srv/gs');
    expect(fromFile.totpPolicy).toBe('all');

    const envWins = loadConfig({ env: { GOVSHARE_CONFIG: path, GOVSHARE_PORT: '9100', GOVSHARE_LOG_LEVEL: 'error' } });
    expect(envWins.port).toBe(9100);
    expect(envWins.logLevel).toBe('error');
    expect(envWins.exchangePort).toBe(9001); // not set in env: the file's value stays
  });

  it('prefers an explicit file over GOVSHARE_CONFIG', () => {
    const a = configFile('a.json', { port: 9200 });
    const b = configFile('b.json', { port: 9300 });
    expect(loadConfig({ env: { GOVSHARE_CONFIG: a }, file: b }).port).toBe(9300);
  });

  it('accepts JSON numbers and booleans as well as strings', () => {
    const path = configFile('typed.json', { port: '9400', secureCookies: true, apiDocs: 'no' });
    const c = loadConfig({ env: {}, file: path });
    expect(c.port).toBe(9400);
    expect(c.secureCookies).toBe(true);
    expect(c.apiDocs).toBe(false);
  });
});

describe('loadConfig refuses bad settings', () => {
  it.each([
    ['GOVSHARE_PORT', 'abc'],
    ['GOVSHARE_PORT', '70000'],
    ['GOVSHARE_PORT', '0'],
    ['GOVSHARE_PORT', '80.5'],
    ['GOVSHARE_EXCHANGE_PORT', '-1'],
    ['GOVSHARE_LOG_LEVEL', 'loud'],
    ['GOVSHARE_TOTP_POLICY', 'none'],
    ['GOVSHARE_SECURE_COOKIES', 'maybe'],
    ['GOVSHARE_HOST', 'bad host/name'],
    ['GOVSHARE_BODY_LIMIT', '10'],
    ['GOVSHARE_EXCHANGE_CIPHER', 'des'],
    ['GOVSHARE_DATA_LOAD_MAX_BYTES', '10'],
    ['GOVSHARE_SESSION_IDLE_MINUTES', '0'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'postgres://db.internal:5432'],
    ['GOVSHARE_AUDIT_HASH_ALGORITHM', 'md5'],
    ['GOVSHARE_AUDIT_CHECKPOINT_EVENTS', '0'],
    ['GOVSHARE_AUDIT_CHECKPOINT_SECONDS', 'soon'],
  ])('%s=%s → GS_ERR_CONFIG_INVALID naming the variable', (variable, value) => {
    const e = expectRefused({ env: { [variable]: value } }, 'GS_ERR_CONFIG_INVALID', variable);
    expect(e.params.key).toBe(variable);
  });

  it('does not echo the database password when DATABASE_URL is refused', () => {
    const e = expectRefused({ env: { DATABASE_URL: 'mysql://gs:Sup3r-Secret@db/x' } }, 'GS_ERR_CONFIG_INVALID', 'DATABASE_URL');
    expect(e.message).not.toContain('Sup3r-Secret');
    expect(e.messageZh).not.toContain('Sup3r-Secret');
  });

  it('refuses the same port for both listeners', () => {
    const e = expectRefused({ env: { GOVSHARE_PORT: '8443' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_EXCHANGE_PORT');
    expect(e.message).toContain('GOVSHARE_PORT');
    expectRefused({ env: { GOVSHARE_PORT: '9000', GOVSHARE_EXCHANGE_PORT: '9000' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_EXCHANGE_PORT');
  });

  it('refuses an unknown key in the config file, naming the file and the key', () => {
    const path = configFile('unknown.json', { port: 9000, prot: 9001 });
    const e = expectRefused({ env: { GOVSHARE_CONFIG: path } }, 'GS_ERR_CONFIG_INVALID', 'prot');
    expect(e.message).toContain(path);
  });

  it('refuses a bad value in the config file, naming the key', () => {
    const path = configFile('bad-value.json', { logLevel: 'loud' });
    const e = expectRefused({ env: {}, file: path }, 'GS_ERR_CONFIG_INVALID', 'logLevel');
    expect(e.message).toContain(path);
  });

  it('refuses a config file that cannot be read', () => {
    const path = join(dir, 'missing.json');
    expectRefused({ env: { GOVSHARE_CONFIG: path } }, 'GS_ERR_CONFIG_FILE', path);
    expectRefused({ env: {}, file: dir }, 'GS_ERR_CONFIG_FILE', dir); // a directory
  });

  it('refuses a config file that is not valid JSON', () => {
    const path = configFile('broken.json', '{ "port": 9000, }');
    expectRefused({ env: { GOVSHARE_CONFIG: path } }, 'GS_ERR_CONFIG_FILE', path);
  });

  it('refuses a config file that is JSON but not one object', () => {
    for (const [name, content] of [
      ['array.json', '[1, 2]'],
      ['null.json', 'null'],
      ['number.json', '8080'],
    ] as const) {
      const path = configFile(name, content);
      expectRefused({ env: {}, file: path }, 'GS_ERR_CONFIG_FILE', path);
    }
  });

  it('refuses a bad override, naming the flag', () => {
    expectRefused({ env: {}, overrides: { port: 70000 } }, 'GS_ERR_CONFIG_INVALID', '--port');
  });
});

describe('documentation', () => {
  it('documents every setting (variable and config-file key) in docs/configuration.md', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const key of CONFIG_KEYS) {
      expect(doc, key.env).toContain(`| \`${key.env}\` | \`${key.file}\` |`);
    }
  });
});

describe('the master key: a key file or a passphrase', () => {
  it('takes a passphrase file from the environment or the config file, and the passphrase itself from the environment', () => {
    expect(loadConfig({ env: { GOVSHARE_MASTER_PASSPHRASE_FILE: '/run/credentials/govshare/passphrase' } }).masterPassphraseFile).toBe('/run/credentials/govshare/passphrase');
    const path = configFile('passphrase-file.json', { masterPassphraseFile: '/etc/govshare/passphrase' });
    expect(loadConfig({ env: {}, file: path }).masterPassphraseFile).toBe('/etc/govshare/passphrase');
    const fromEnv = loadConfig({ env: { GOVSHARE_MASTER_PASSPHRASE: 'seven random words make a passphrase' } }).masterPassphrase;
    expect(fromEnv?.source).toBe('GOVSHARE_MASTER_PASSPHRASE');
    expect(fromEnv?.reveal()).toBe('seven random words make a passphrase');
    expect(loadConfig({ env: { GOVSHARE_MASTER_PASSPHRASE: '' } }).masterPassphrase).toBeUndefined();
  });

  it('refuses the passphrase in the config file, without echoing it', () => {
    const path = configFile('passphrase-in-file.json', { masterPassphrase: 'Never-In-A-Config-File-123' });
    const e = expectRefused({ env: {}, file: path }, 'GS_ERR_CONFIG_INVALID', 'masterPassphrase');
    expect(e.message).toContain('GOVSHARE_MASTER_PASSPHRASE');
    expect(e.message).not.toContain('Never-In-A-Config-File');
  });

  it('refuses a master key given two ways, naming both', () => {
    const both = { GOVSHARE_MASTER_KEY_FILE: '/etc/govshare/master.key', GOVSHARE_MASTER_PASSPHRASE: 'seven random words make a passphrase' };
    expectRefused({ env: both }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_MASTER_KEY_FILE and GOVSHARE_MASTER_PASSPHRASE');
    expectRefused(
      { env: { GOVSHARE_MASTER_KEY_FILE: '/etc/govshare/master.key', GOVSHARE_MASTER_PASSPHRASE_FILE: '/etc/govshare/passphrase' } },
      'GS_ERR_CONFIG_INVALID',
      'GOVSHARE_MASTER_KEY_FILE and GOVSHARE_MASTER_PASSPHRASE_FILE',
    );
    expectRefused(
      { env: { GOVSHARE_MASTER_PASSPHRASE_FILE: '/etc/govshare/passphrase', GOVSHARE_MASTER_PASSPHRASE: 'seven random words make a passphrase' } },
      'GS_ERR_CONFIG_INVALID',
      'GOVSHARE_MASTER_PASSPHRASE_FILE and GOVSHARE_MASTER_PASSPHRASE',
    );
    // The key file from the config file and the passphrase from the environment conflict too.
    const path = configFile('key-file.json', { masterKeyFile: '/etc/govshare/master.key' });
    expectRefused({ env: { GOVSHARE_CONFIG: path, GOVSHARE_MASTER_PASSPHRASE: both.GOVSHARE_MASTER_PASSPHRASE } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_MASTER_KEY_FILE and GOVSHARE_MASTER_PASSPHRASE');
  });
});

describe('notification delivery settings', () => {
  it('takes an smtp:// or smtps:// server with its From address, and sends no e-mail without one', () => {
    expect(loadConfig({ env: {} }).smtpUrl).toBeUndefined();
    const c = loadConfig({ env: { GOVSHARE_SMTP_URL: 'smtps://noreply:p%40ss@mail.gov.test:465', GOVSHARE_SMTP_FROM: '政务共享平台 <noreply@gov.test>' } });
    expect(c.smtpUrl).toBe('smtps://noreply:p%40ss@mail.gov.test:465');
    expect(c.smtpFrom).toBe('政务共享平台 <noreply@gov.test>');
    expectRefused({ env: { GOVSHARE_SMTP_URL: 'https://mail.gov.test', GOVSHARE_SMTP_FROM: 'x@gov.test' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_SMTP_URL');
    expectRefused({ env: { GOVSHARE_SMTP_URL: 'smtp://mail.gov.test:587' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_SMTP_FROM');
  });

  it('reads the retry delays as durations and refuses others', () => {
    expect(parseRetryDelays(DEFAULT_CONFIG.deliveryRetryDelays)).toEqual([30_000, 120_000, 600_000, 3_600_000, 10_800_000, 21_600_000]);
    expect(loadConfig({ env: { GOVSHARE_DELIVERY_RETRY_DELAYS: '5s, 1m' } }).deliveryRetryDelays).toBe('5s, 1m');
    expectRefused({ env: { GOVSHARE_DELIVERY_RETRY_DELAYS: '30s,soon' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_DELIVERY_RETRY_DELAYS');
    expectRefused({ env: { GOVSHARE_DELIVERY_MAX_ATTEMPTS: '0' } }, 'GS_ERR_CONFIG_INVALID', 'GOVSHARE_DELIVERY_MAX_ATTEMPTS');
  });
});
