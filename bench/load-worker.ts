// The load generator's thread (see runLoad in load.ts): one autocannon run against one target,
// answered with the measurements or the reason it failed.
import { parentPort, workerData } from 'node:worker_threads';
import autocannon, { type Result } from 'autocannon';
import type { LoadReply, LoadRequest } from './load.js';

function failures(r: Result, firstBadStatus: number | undefined): string[] {
  const problems: string[] = [];
  if (r.errors > 0) problems.push(`${r.errors} connection errors (${r.timeouts} timeouts)`);
  if (r.non2xx > 0 || firstBadStatus !== undefined) {
    const codes = Object.entries(r.statusCodeStats)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, s]) => `${s.count}×${code}`)
      .join(', ');
    problems.push(`non-2xx responses: ${codes || String(firstBadStatus)}`);
  }
  if (r.mismatches > 0) problems.push(`${r.mismatches} responses with an unexpected body`);
  if (!(r.requests.total > 0)) problems.push('no response at all');
  return problems;
}

async function generate({ target, seconds, connections }: LoadRequest): Promise<LoadReply> {
  // autocannon's own latency histogram keeps whole milliseconds, too coarse for a loopback p99
  // of a few milliseconds: keep every response time instead (8 bytes each).
  let times = new Float64Array(1 << 16);
  let count = 0;
  let firstBadStatus: number | undefined;
  const options = {
    url: target.url,
    connections,
    pipelining: 1,
    duration: seconds,
    timeout: 10,
    headers: target.headers ?? {},
    method: target.method ?? 'GET',
    ...(target.body === undefined ? {} : { body: target.body }),
    expectBody: target.expectBody,
    // autocannon sets rejectUnauthorized: false itself: the server's certificate is not checked,
    // the client's (key and certificate here) is, by the server.
    ...(target.tls ? { tlsOptions: { key: target.tls.key, cert: target.tls.cert, ca: target.tls.ca }, servername: target.tls.servername } : {}),
    // Stop (at the end of the current 1 s sample) after a connection error, timeout or other body.
    bailout: 1,
    title: target.label,
    // Outside the main thread autocannon returns the raw result anyway: say so, aggregate below.
    skipAggregateResult: true,
  } as const;
  const instance = autocannon(options);
  instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
    if (statusCode < 200 || statusCode > 299) {
      if (firstBadStatus === undefined) {
        firstBadStatus = statusCode;
        instance.stop();
      }
      return;
    }
    if (count === times.length) {
      const grown = new Float64Array(times.length * 2);
      grown.set(times);
      times = grown;
    }
    times[count++] = responseTimeMs;
  });
  const result = autocannon.aggregateResult([await instance], options);
  const problems = failures(result, firstBadStatus);
  if (problems.length > 0) return { kind: 'failed', message: `${target.label} (${target.url}): ${problems.join('; ')}` };
  return { kind: 'done', responses: result.requests.total, seconds: result.samples, latenciesMs: times.slice(0, count) };
}

const reply = await generate(workerData as LoadRequest).catch(
  (e: unknown): LoadReply => ({ kind: 'failed', message: `load generator: ${e instanceof Error ? e.message : String(e)}` }),
);
// The response times are moved to the main thread, not copied.
const transfer = reply.kind === 'done' && reply.latenciesMs.buffer instanceof ArrayBuffer ? [reply.latenciesMs.buffer] : [];
parentPort?.postMessage(reply, transfer);
