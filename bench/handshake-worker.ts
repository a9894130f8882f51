// The thread that opens a new connection for every request (see runHandshakes in handshakes.ts):
// for an https:// target each request pays a full TLS handshake, client certificate included.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect as netConnect, type Socket } from 'node:net';
import { connect, createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import type { HandshakeReply, HandshakeRequest } from './handshakes.js';
import type { LoadTarget } from './load.js';

/** One GET on a connection of its own (no keep-alive, no TLS session resumption); its time in ms. */
function once(target: LoadTarget, secureContext: SecureContext | undefined): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 299) reject(new Error(`status ${status}: ${body.slice(0, 200)}`));
        else if (body !== target.expectBody) reject(new Error(`unexpected body: ${body.slice(0, 200)}`));
        else resolve(performance.now() - started);
      });
      res.on('error', reject);
    };
    // The https client checks the server's certificate against the platform CA (in the secure
    // context), as a real client does.
    const url = new URL(target.url);
    const fullHandshake = (): TLSSocket => {
      const socket = connect({ host: url.hostname, port: Number(url.port), secureContext, servername: target.tls?.servername });
      // Nothing is cached between connections; this makes sure each one is a full handshake.
      socket.once('secureConnect', () => {
        if (socket.isSessionReused()) socket.destroy(new Error('the TLS session was resumed: not a full handshake'));
      });
      return socket;
    };
    const tcp = (): Socket => netConnect({ host: url.hostname, port: Number(url.port) });
    // No agent: the request runs on the connection made here and closes it (Connection: close).
    const options = { headers: target.headers ?? {} };
    const req = secureContext ? httpsRequest(url, { ...options, createConnection: fullHandshake }, onResponse) : httpRequest(url, { ...options, createConnection: tcp }, onResponse);
    req.setTimeout(10_000, () => req.destroy(new Error('no response within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

async function handshakes({ target, count }: HandshakeRequest): Promise<HandshakeReply> {
  // Key, certificate and CA parsed once, as a long-running client would: what is timed is the
  // connection (TCP, TLS handshake with both certificates checked) and the request on it.
  const secureContext = target.tls ? createSecureContext({ key: target.tls.key, cert: target.tls.cert, ca: target.tls.ca }) : undefined;
  const times = new Float64Array(count);
  const started = performance.now();
  // One at a time: each time is one connection's whole cost, not queueing behind others.
  for (let i = 0; i < count; i++) times[i] = await once(target, secureContext);
  return { kind: 'done', seconds: (performance.now() - started) / 1000, latenciesMs: times };
}

const reply = await handshakes(workerData as HandshakeRequest).catch(
  (e: unknown): HandshakeReply => ({ kind: 'failed', message: `${(workerData as HandshakeRequest).target.label}: ${e instanceof Error ? e.message : String(e)}` }),
);
const transfer = reply.kind === 'done' && reply.latenciesMs.buffer instanceof ArrayBuffer ? [reply.latenciesMs.buffer] : [];
parentPort?.postMessage(reply, transfer);
