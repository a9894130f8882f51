import { GsError } from './errors.js';

/** Optimistic concurrency: a client that read version N may only write over version N. */
export function checkVersion(expected: number | undefined, actual: number): void {
  if (expected !== undefined && expected !== actual) throw new GsError('GS_ERR_REQUEST_CONFLICT', { expected, actual });
}

/** A patch object without its absent keys (so `undefined` never overwrites a column). */
export function stripUndefined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}
