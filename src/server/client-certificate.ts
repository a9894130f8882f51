import type { IncomingMessage } from 'node:http';
import { TLSSocket } from 'node:tls';

/** A client certificate TLS verified against the platform CA on this connection. */
export interface PresentedCertificate {
  readonly serialNumber: string;
  /** `AA:BB:…` as Node reports it. */
  readonly fingerprint256: string;
  /** The same fingerprint as stored by the PKI: lowercase hex without colons. */
  readonly sha256: string;
}

export type CertificatePresence = { readonly ok: true; readonly certificate: PresentedCertificate } | { readonly ok: false; readonly trusted: boolean; readonly reason: string };

/**
 * The client certificate of a request on the console port. That port asks for a certificate but
 * does not insist (most people log in with password + TOTP), so here — not in the handshake — a
 * missing or unverified certificate is told apart from a good one.
 */
export function presentedCertificate(req: IncomingMessage): CertificatePresence {
  const socket = req.socket;
  if (!(socket instanceof TLSSocket)) return { ok: false, trusted: true, reason: 'the console port is plain HTTP; see GOVSHARE_CONSOLE_TLS' };
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.serialNumber) return { ok: false, trusted: true, reason: 'the browser or client presented no certificate' };
  if (!socket.authorized) {
    const why = socket.authorizationError;
    return { ok: false, trusted: false, reason: why ? `${why instanceof Error ? why.message : String(why)}` : 'not issued by the platform CA' };
  }
  return { ok: true, certificate: { serialNumber: peer.serialNumber, fingerprint256: peer.fingerprint256, sha256: peer.fingerprint256.replace(/:/g, '').toLowerCase() } };
}
