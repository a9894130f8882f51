import { createHash, randomBytes, randomUUID } from 'node:crypto';

/** A bearer secret with a readable prefix (`gss_` session, `gst_` API token) and 256 random bits. */
export function newBearerSecret(prefix: 'gss' | 'gst'): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

/** Secrets are stored only as this hash; a stolen table gives no usable credential. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function newId(): string {
  return randomUUID();
}

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}
