import { readFileSync, statSync } from 'node:fs';
import type { GsError } from './errors.js';

/*
 * How to reach an S3-compatible object store, shared by the backup target and the blob store.
 * Apart from the client (s3-client.ts), so that only code that really uses a bucket loads the
 * AWS SDK. Each user has its own settings (`GOVSHARE_BACKUP_S3_*`, `GOVSHARE_BLOB_S3_*`), named
 * by `settings` in messages, and its own error codes.
 */

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

/** The settings of one user of an object store: their names and the error its credential problems raise. */
export interface S3Settings {
  /** `GOVSHARE_BACKUP_S3`: the settings are `<prefix>_ENDPOINT`, `<prefix>_CA_FILE`, … */
  readonly prefix: string;
  readonly credentialsError: (reason: string) => GsError;
}

/** Credentials may come from the environment instead of a file; never from the config file. */
export function accessKeyIdEnv(settings: S3Settings): string {
  return `${settings.prefix}_ACCESS_KEY_ID`;
}

export function secretAccessKeyEnv(settings: S3Settings): string {
  return `${settings.prefix}_SECRET_ACCESS_KEY`;
}

/** The configured values of one user's settings and the credentials from the environment. */
export function s3OptionsOf(
  values: { readonly endpoint: string | undefined; readonly region: string; readonly pathStyle: boolean; readonly caFile: string | undefined; readonly credentialsFile: string | undefined },
  settings: S3Settings,
  env: Readonly<Record<string, string | undefined>>,
): S3Options {
  const accessKeyId = env[accessKeyIdEnv(settings)] || undefined;
  const secretAccessKey = env[secretAccessKeyEnv(settings)] || undefined;
  return {
    ...values,
    ...(accessKeyId ? { accessKeyId } : {}),
    ...(secretAccessKey ? { secretAccessKey } : {}),
  };
}

export interface S3Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * The access key id and secret: from the environment (both variables), or from a file in the AWS
 * shared-credentials format (`aws_access_key_id = …`, `aws_secret_access_key = …`, one profile),
 * readable by its owner only, as the key files are.
 */
export function readS3Credentials(options: S3Options, settings: S3Settings): S3Credentials {
  const fail = settings.credentialsError;
  const idEnv = accessKeyIdEnv(settings);
  const secretEnv = secretAccessKeyEnv(settings);
  const fromEnv = options.accessKeyId !== undefined || options.secretAccessKey !== undefined;
  if (fromEnv && options.credentialsFile) {
    throw fail(`they are given twice (${idEnv}/${secretEnv} and the credentials file ${options.credentialsFile}); give them in one place`);
  }
  if (fromEnv) {
    if (!options.accessKeyId || !options.secretAccessKey) throw fail(`set both ${idEnv} and ${secretEnv}, or neither`);
    return { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey };
  }
  const file = options.credentialsFile;
  if (!file) {
    throw fail(
      `none are configured: set ${settings.prefix}_CREDENTIALS_FILE to a file (chmod 600) holding the lines "aws_access_key_id = …" and "aws_secret_access_key = …", or set ${idEnv} and ${secretEnv}`,
    );
  }
  let text: string;
  let mode: number;
  try {
    text = readFileSync(file, 'utf8');
    mode = statSync(file).mode;
  } catch (e) {
    throw fail(`cannot read ${file}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw fail(`${file} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const values = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';') || /^\[.*\]$/.test(line)) continue;
    const m = /^([A-Za-z_]+)\s*=\s*(.*)$/.exec(line);
    if (!m) throw fail(`${file}: a line is neither "name = value", a [section] nor a comment`);
    const name = m[1]!.toLowerCase();
    if (values.has(name)) throw fail(`${file} gives ${name} twice; keep one profile in it`);
    values.set(name, m[2]!.trim());
  }
  const accessKeyId = values.get('aws_access_key_id');
  const secretAccessKey = values.get('aws_secret_access_key');
  if (!accessKeyId || !secretAccessKey) throw fail(`${file} must hold both aws_access_key_id and aws_secret_access_key`);
  const sessionToken = values.get('aws_session_token');
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}
