import { isGsError, type GsError } from '../lib/errors.js';

/**
 * The one mapping from errors to process exit codes (documented in docs/cli.md).
 *
 * 0 success · 1 internal error · 2 usage error · 3 configuration invalid · 4 database unavailable
 * or its schema unusable · 5 busy (port in use, data directory held, admin socket unreachable) ·
 * 6 not found · 7 refused input or conflict · 8 integrity check failed (the audit trail does not verify)
 */
export const EXIT = { ok: 0, internal: 1, usage: 2, config: 3, database: 4, busy: 5, notFound: 6, refused: 7, integrity: 8 } as const;

export function exitCodeFor(error: unknown): number {
  if (!isGsError(error)) return EXIT.internal;
  const e: GsError = error;
  if (e.code === 'GS_ERR_SERVER_INTERNAL') return EXIT.internal;
  if (e.code === 'GS_ERR_AUDIT_CHAIN_BROKEN') return EXIT.integrity;
  // A missing, unreadable or wrong master key is a matter of configuration too.
  if (e.code.startsWith('GS_ERR_CONFIG_') || e.code.startsWith('GS_ERR_KEYS_')) return EXIT.config;
  if (e.code === 'GS_ERR_DB_DATA_DIR_LOCKED' || e.code === 'GS_ERR_ADMIN_SOCKET' || e.code.startsWith('GS_ERR_SERVER_')) return EXIT.busy;
  if (e.code.startsWith('GS_ERR_DB_')) return EXIT.database;
  if (e.status === 404) return EXIT.notFound;
  return EXIT.refused;
}
