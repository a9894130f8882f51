import { GsError } from '../../lib/errors.js';
import { readS3Credentials as readCredentials, s3OptionsOf, type S3Credentials, type S3Options, type S3Settings } from '../../lib/s3-options.js';
import type { Config } from '../../server/config.js';

export type { S3Options } from '../../lib/s3-options.js';

/** The backup's object-store settings: `GOVSHARE_BACKUP_S3_*` (docs/backup.md). */
export const BACKUP_S3: S3Settings = {
  prefix: 'GOVSHARE_BACKUP_S3',
  credentialsError: (reason) => new GsError('GS_ERR_BACKUP_STORE_CREDENTIALS', { reason }),
};

export type S3Config = Pick<Config, 'backupS3Endpoint' | 'backupS3Region' | 'backupS3PathStyle' | 'backupS3CaFile' | 'backupS3CredentialsFile'>;

export function s3OptionsFrom(config: S3Config, env: Readonly<Record<string, string | undefined>>): S3Options {
  return s3OptionsOf(
    { endpoint: config.backupS3Endpoint, region: config.backupS3Region, pathStyle: config.backupS3PathStyle, caFile: config.backupS3CaFile, credentialsFile: config.backupS3CredentialsFile },
    BACKUP_S3,
    env,
  );
}

/** The backup target's credentials (GS_ERR_BACKUP_STORE_CREDENTIALS naming the backup's settings). */
export function readS3Credentials(options: S3Options): S3Credentials {
  return readCredentials(options, BACKUP_S3);
}
