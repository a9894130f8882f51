import { createHash, createHmac, generateKeyPairSync, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage, Server } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Forge from 'node-forge';

/**
 * A real S3-compatible HTTP server in the test process, for tests only: s3rver (the maintained
 * fork, with multipart uploads) on a free port on 127.0.0.1, its objects in a temporary folder.
 * It does not implement If-None-Match on writes nor AbortMultipartUpload, so the targets'
 * fallbacks for such stores are exercised too.
 *
 * Signatures: s3rver's own SigV4 check builds the canonical URI of a bucket-level request without
 * the trailing slash every SDK signs (`/bucket/?list-type=2`), so it refuses every listing. The
 * check below (AWS's SigV4 rules for the Authorization header) runs first instead and refuses
 * a wrong secret with SignatureDoesNotMatch, as S3 does; s3rver still refuses unknown key ids.
 */
interface KoaContext {
  readonly req: IncomingMessage;
}
type S3ErrorClass = new (code: string, message: string) => Error;
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rver {
  readonly middleware: Middleware[];
  httpServer?: Server;
  run(): Promise<{ port: number }>;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rver;

// CommonJS without type declarations: loaded by require, typed here as far as the tests use it.
const require = createRequire(import.meta.url);

/** The access key pair s3rver knows. */
export const TEST_ACCESS_KEY_ID = 'S3RVER';
export const TEST_SECRET_ACCESS_KEY = 'S3RVER';

export interface TestObjectStore {
  readonly endpoint: string;
  /** The folder the store keeps buckets and objects in. */
  readonly dir: string;
  /** Sees every request before the store handles it (e.g. to stop the store mid-upload). */
  onRequest(hook: ((req: IncomingMessage) => void) | undefined): void;
  /** Drops every connection and stops listening, as a crashed or unplugged store would. */
  stop(): void;
  /** Listens again on the same port with the same objects. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

export async function startTestObjectStore(options: { readonly buckets: readonly string[]; readonly tls?: { readonly key: string; readonly cert: string } }): Promise<TestObjectStore> {
  const S3rverCtor = require('@20minutes/s3rver') as S3rverClass;
  const dir = mkdtempSync(join(tmpdir(), 'govshare-s3-'));
  let hook: ((req: IncomingMessage) => void) | undefined;
  let port = 0;
  let server: S3rver | undefined;
  const listen = async (): Promise<void> => {
    const s = new S3rverCtor({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      vhostBuckets: false,
      // Checked by signatureMatches (see above).
      allowMismatchedSignatures: true,
      configureBuckets: options.buckets.map((name) => ({ name })),
      ...(options.tls ? { key: options.tls.key, cert: options.tls.cert } : {}),
    });
    s.middleware.unshift(async (ctx, next) => {
      hook?.(ctx.req);
      if (!signatureMatches(ctx.req)) {
        const S3Error = require('@20minutes/s3rver/lib/models/error') as S3ErrorClass;
        throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
      }
      await next();
    });
    port = (await s.run()).port;
    server = s;
  };
  await listen();
  const stop = (): void => {
    const http = server?.httpServer;
    server = undefined;
    if (!http) return;
    http.close();
    http.closeAllConnections();
  };
  return {
    endpoint: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    dir,
    onRequest: (h) => {
      hook = h;
    },
    stop,
    restart: listen,
    close: async () => {
      stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** RFC 3986 encoding, as SigV4 canonical query strings need it. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * AWS Signature Version 4 in the Authorization header, computed again with the secret of the
 * request's key id: canonical request (method, path as sent, sorted query, signed headers,
 * payload hash), string to sign, HMAC chain. Requests without that header, or from an unknown
 * key id, pass on to s3rver, which treats them as S3 does.
 */
function signatureMatches(req: IncomingMessage): boolean {
  const auth = req.headers.authorization;
  if (!auth) return true;
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return false;
  const [, keyId, date, region, service, signedHeaders, signature] = m as unknown as [string, string, string, string, string, string, string];
  if (keyId !== TEST_ACCESS_KEY_ID) return true;
  const [path = '/', query = ''] = (req.url ?? '/').split('?', 2);
  const canonicalQuery = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const [k = '', v = ''] = p.split('=', 2);
      return [uriEncode(decodeURIComponent(k)), uriEncode(decodeURIComponent(v))] as const;
    })
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const names = signedHeaders.split(';');
  const headers = names.map((h) => `${h}:${String(req.headers[h] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = String(req.headers['x-amz-content-sha256'] ?? 'UNSIGNED-PAYLOAD');
  const canonical = [req.method, path, canonicalQuery, headers, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date'] ?? ''), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  let signingKey: Buffer = Buffer.from(`AWS4${TEST_SECRET_ACCESS_KEY}`);
  for (const part of [date, region, service, 'aws4_request']) signingKey = createHmac('sha256', signingKey).update(part).digest();
  const expected = createHmac('sha256', signingKey).update(toSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex'));
}

/** A self-signed certificate for 127.0.0.1 (its own CA), for an HTTPS store. */
export function selfSignedCertificate(): { key: string; cert: string } {
  const forge = require('node-forge') as typeof Forge;
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const name = [{ name: 'commonName', value: '127.0.0.1' }];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(keyPem), forge.md.sha256.create());
  return { key: keyPem, cert: forge.pki.certificateToPem(cert) };
}
