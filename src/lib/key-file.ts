import { readFileSync, statSync } from 'node:fs';

/**
 * Reads an operator's key file: 32 random bytes in base64 (`openssl rand -base64 32`), readable by
 * its owner only. Used for the master key and the backup key; `refuse` turns a problem into the
 * caller's own error code.
 */
export function readKeyFile(path: string, refuse: (reason: string) => Error): Buffer {
  let text: string;
  let mode: number;
  try {
    text = readFileSync(path, 'utf8').trim();
    mode = statSync(path).mode;
  } catch (e) {
    throw refuse(`cannot read ${path}: ${(e as Error).message}`);
  }
  if ((mode & 0o077) !== 0) throw refuse(`${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32 || key.toString('base64') !== text.replace(/\s/g, '')) {
    throw refuse(`${path} must hold 32 random bytes in base64 (e.g. openssl rand -base64 32)`);
  }
  return key;
}
