import { readFileSync, statSync } from 'node:fs';
import { GsError } from '../../lib/errors.js';
import type { Config } from '../../server/config.js';

/*
 * The settings of an S3-compatible target, apart from the client (s3-target.ts), so that only
 * commands that use a bucket load the AWS SDK.
 */

/** Credentials may come from the environment instead of a file; never from the config file. */
export const S3_ACCESS_KEY_ID_ENV = 'GOVSHARE_BACKUP_S3_ACCESS_KEY_ID';
export const S3_SECRET_ACCESS_KEY_ENV = 'GOVSHARE_BACKUP_S3_SECRET_ACCESS_KEY';

/**
 * How to reach the object store. Plain JSON: the CLI resolves it and, with a running embedded
 * server, hands it over the admin socket (files by path, as the backup key file).
 */
export interface S3Options {
  /** `https://minio.internal:9000`; absent: AWS S3 of `region`. */
  readonly endpoint?: string | undefined;
  readonly region: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`. */
  readonly pathStyle: boolean;
  /** PEM file of the CA(s) that issued the endpoint's certificate; trusted instead of the bundled ones. */
  readonly caFile?: string | undefined;
  readonly credentialsFile?: string | undefined;
  /** From the environment of the command or server that resolved the options. */
  readonly accessKeyId?: string | undefined;
  readonly secretAccessKey?: string | undefined;
  /** Bytes per part of a multipart upload; at least 5 MiB (the S3 minimum). */
  readonly partSize?: number | undefined;
}

export type S3Config = Pick<Config, 'backupS3Endpoint' | 'backupS3Region' | 'backupS3PathStyle' | 'backupS3CaFile' | 'backupS3CredentialsFile'>;

export function s3OptionsFrom(config: S3Config, env: Readonly<Record<string, string | undefined>>): S3Options {
  const accessKeyId = env[S3_ACCESS_KEY_ID_ENV] || undefined;
  const secretAccessKey = env[S3_SECRET_ACCESS_KEY_ENV] || undefined;
  return {
    endpoint: config.backupS3Endpoint,
    region: config.backupS3Region,
    pathStyle: config.backupS3PathStyle,
    caFile: config.backupS3CaFile,
    credentialsFile: config.backupS3CredentialsFile,
    ...(accessKeyId ? { accessKeyId } : {}),
    ...(secretAccessKey ? { secretAccessKey } : {}),
  };
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

function credentialsError(reason: string): GsError {
  return new GsError('GS_ERR_BACKUP_STORE_CREDENTIALS', { reason });
}

/**
 * The access key id and secret: from the environment (both variables), or from a file in the AWS
 * shared-credentials format (`aws_access_key_id = …`, `aws_secret_access_key = …`, one profile),
 * readable by its owner only, as the key files are.
 */
export function readS3Credentials(options: S3Options): S3Credentials {
  const fromEnv = options.accessKeyId !== undefined || options.secretAccessKey !== undefined;
  if (fromEnv && options.credentialsFile) {
    throw credentialsError(`they are given twice (${S3_ACCESS_KEY_ID_ENV}/${S3_SECRET_ACCESS_KEY_ENV} and the credentials file ${options.credentialsFile}); give them in one place`);
  }
  if (fromEnv) {
    if (!options.accessKeyId || !options.secretAccessKey) throw credentialsError(`set both ${S3_ACCESS_KEY_ID_ENV} and ${S3_SECRET_ACCESS_KEY_ENV}, or neither`);
    return { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  const file = options.credentialsFile;
  if (!file) {
    throw credentialsError(
      `none are configured: set GOVSHARE_BACKUP_S3_CREDENTIALS_FILE to a file (chmod 600) holding the lines "aws_access_key_id = …" and "aws_secret_access_key = …", or set ${S3_ACCESS_KEY_ID_ENV} and ${S3_SECRET_ACCESS_KEY_ENV}`,
    );
  }
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (e) {
    throw credentialsError(`cannot read ${file}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw credentialsError(`${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || /^\[.*\]$/.test(line)) continue;
    const m = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw credentialsError(`${file}: a line is neither "name = value", a [section] nor a comment`);
    const name = m[1]!.toLowerCase();
    if (values.has(name)) throw credentialsError(`${file} gives ${name} twice; keep one profile in it`);
    values.set(name, m[2]!.trim());
  }
  const accessKeyId = values.get('aws_access_key_id');
  const secretAccessKey = values.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw credentialsError(`${file} must hold both aws_access_key_id and aws_secret_access_key`);
  const sessionToken = values.get('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
