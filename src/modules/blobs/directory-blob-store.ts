import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GsError, isGsError } from '../../lib/errors.js';
import type { BlobStore } from './blob-store.js';
import { Intake, isSha256, verified } from './content.js';

/** Where blobs are written before they have a name; on the same file system, so a rename is atomic. */
const INCOMING = '.incoming';

/**
 * Blobs as files in a folder: `<dir>/<2 hex>/<2 hex>/<sha256>`, two levels of 256 folders so no
 * folder grows past a few thousand entries. A blob is written under `.incoming/`, flushed to disk,
 * then renamed to its name and the folder flushed, so after a crash it is there complete or not
 * at all. Files are owner-only: the server's account is the only reader.
 */
export class DirectoryBlobStore implements BlobStore {
  readonly location: string;

  constructor(readonly dir: string) {
    this.location = dir;
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }

  #failed(e: unknown, doing: string): GsError {
    if (isGsError(e)) return e;
    return new GsError('GS_ERR_BLOB_STORE_FAILED', { location: this.location, reason: `${doing}: ${e instanceof Error ? e.message : String(e)}` });
  }

  async put(body: Readable, options: { readonly maxBytes: number }): Promise<{ readonly sha256: string; readonly bytes: number }> {
    const incoming = join(this.dir, INCOMING);
    try {
      await mkdir(incoming, { recursive: true, mode: 0o700 });
    } catch (e) {
      body.destroy();
      throw this.#failed(e, `creating ${incoming}`);
    }
    const partial = join(incoming, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const intake = new Intake(options.maxBytes);
    // `flush`: the data is on disk before the name appears.
    const out = createWriteStream(partial, { flags: 'wx', mode: 0o600, flush: true });
    let published = false;
    // Once one stream fails the pipeline fails the others with the same error: which one failed
    // first tells the body's own failure (a client that went away), reported as itself, from the disk's.
    let first: 'body' | 'file' | undefined;
    body.once('error', () => (first ??= 'body'));
    out.once('error', () => (first ??= 'file'));
    try {
      try {
        await pipeline(body, intake, out);
      } catch (e) {
        throw isGsError(e) || first !== 'file' ? e : this.#failed(e, `writing ${partial}`);
      }
      const sha256 = intake.sha256();
      const file = this.pathOf(sha256);
      if (!(await this.has(sha256))) {
        try {
          await mkdir(join(this.dir, sha256.slice(0, 2), sha256.slice(2, 4)), { recursive: true, mode: 0o700 });
          // Two uploads of the same bytes may race here; either rename leaves the same content.
          await rename(partial, file);
          published = true;
          await syncFolder(join(file, '..'));
        } catch (e) {
          throw this.#failed(e, `storing ${file}`);
        }
      }
      return { sha256, bytes: intake.bytes };
    } finally {
      // A stream destroyed before it opened still creates the file, and closes it later.
      if (!out.closed) await once(out, 'close').catch(() => undefined);
      if (!published) await rm(partial, { force: true }).catch(() => undefined);
    }
  }

  async open(sha256: string): Promise<Readable> {
    if (!isSha256(sha256)) throw new GsError('GS_ERR_BLOB_NOT_FOUND', { sha256, location: this.location });
    let handle;
    try {
      handle = await open(this.pathOf(sha256), 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new GsError('GS_ERR_BLOB_NOT_FOUND', { sha256, location: this.location });
      throw this.#failed(e, `opening ${this.pathOf(sha256)}`);
    }
    return verified(handle.createReadStream(), sha256, this.location);
  }

  async has(sha256: string): Promise<boolean> {
    if (!isSha256(sha256)) return false;
    try {
      return (await stat(this.pathOf(sha256))).isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw this.#failed(e, `looking for ${sha256}`);
    }
  }

  close(): void {
    // nothing held
  }
}

/** Flushes a folder's entries (the new name) to disk; where a folder cannot be opened for it, the rename stands unflushed. */
async function syncFolder(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return;
  }
  try {
    await handle.sync().catch(() => undefined);
  } finally {
    await handle.close();
  }
}
