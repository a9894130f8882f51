import { createHmac, randomBytes } from 'node:crypto';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport/index.js';
import type { NotificationRow } from './store.js';

/**
 * The two outside channels: e-mail over SMTP and webhooks over HTTP(S). A send never throws: it
 * returns what happened, which the worker records as the attempt.
 */
export interface SendResult {
  readonly ok: boolean;
  readonly httpStatus?: number | undefined;
  readonly smtpResponse?: string | undefined;
  readonly error?: string | undefined;
}

/** Longest error text or response kept per attempt. */
const MAX_TEXT = 1000;

function clip(s: string): string {
  return s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
}

/** The message of an error, with its cause (fetch says "fetch failed" and hides the reason there). */
export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; cur instanceof Error && depth < 4; depth++) {
    const code = (cur as NodeJS.ErrnoException).code;
    const text = cur.message || cur.name;
    parts.push(code && !text.includes(code) ? `${text} (${code})` : text);
    cur = cur.cause;
  }
  return clip(parts.join(': '));
}

// ---- e-mail ------------------------------------------------------------------------------------

export interface EmailSettings {
  /** `smtp://user:pass@host:587` (STARTTLS when offered) or `smtps://…` (TLS from the start). */
  readonly url: string;
  readonly from: string;
  readonly timeoutMs: number;
}

export interface EmailMessage {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** Headers for the receiving side's filters and for tracing a message to its delivery. */
  readonly headers: Readonly<Record<string, string>>;
}

/** Chinese first (the console is Chinese), English below; the subject carries both. */
export function composeEmail(n: Pick<NotificationRow, 'id' | 'kind' | 'subjectZh' | 'subject' | 'bodyZh' | 'body'>, to: string, deliveryId: string): EmailMessage {
  const text = [
    n.bodyZh,
    '',
    '——',
    '',
    n.body,
    '',
    '--',
    '本邮件由政务信息资源共享交换平台自动发送，请登录平台在收件箱查看；如不需要邮件提醒，可在“通知设置”中关闭。',
    'Sent by govshare. See your inbox on the platform; you can turn e-mail notifications off in your notification preferences.',
  ].join('\n');
  return {
    to,
    subject: n.subjectZh === n.subject ? n.subjectZh : `${n.subjectZh} | ${n.subject}`,
    text,
    headers: { 'X-Govshare-Event': n.kind, 'X-Govshare-Delivery': deliveryId, 'X-Govshare-Notification': n.id },
  };
}

export class EmailSender {
  readonly #transport: Transporter<SMTPTransport.SentMessageInfo>;
  readonly #from: string;

  constructor(settings: EmailSettings) {
    this.#from = settings.from;
    // One connection per message: notices are few, and a dead server must not hold a pool.
    this.#transport = nodemailer.createTransport({
      url: settings.url,
      connectionTimeout: settings.timeoutMs,
      greetingTimeout: settings.timeoutMs,
      socketTimeout: settings.timeoutMs,
      dnsTimeout: settings.timeoutMs,
    });
  }

  async send(message: EmailMessage): Promise<SendResult> {
    try {
      const info = await this.#transport.sendMail({ from: this.#from, to: message.to, subject: message.subject, text: message.text, headers: { ...message.headers } });
      if (info.rejected.length > 0) return { ok: false, smtpResponse: clip(info.response), error: clip(`the server refused the recipient: ${info.response}`) };
      return { ok: true, smtpResponse: clip(info.response) };
    } catch (e) {
      const response = (e as { response?: unknown }).response;
      return { ok: false, smtpResponse: typeof response === 'string' ? clip(response) : undefined, error: describeError(e) };
    }
  }

  close(): void {
    this.#transport.close();
  }
}

// ---- webhooks ----------------------------------------------------------------------------------

/** A webhook secret: shown once at creation, stored sealed with the master key. */
export function newWebhookSecret(): string {
  return `gswh_${randomBytes(32).toString('base64url')}`;
}

/** The key-ring context a webhook's secret is sealed under: a sealed secret opens for its webhook only. */
export function webhookSecretContext(webhookId: string): string {
  return `notifications.webhook:${webhookId}`;
}

/** `sha256=<hex HMAC-SHA256 over "<timestamp>.<raw body>">` (docs/notifications.md). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The JSON body of a webhook delivery; the same for every attempt of one delivery. */
export function webhookBody(n: Pick<NotificationRow, 'id' | 'kind' | 'createdAt' | 'targetType' | 'targetId' | 'subject' | 'subjectZh' | 'details'>): string {
  return JSON.stringify({
    id: n.id,
    kind: n.kind,
    occurredAt: n.createdAt.toISOString(),
    target: { type: n.targetType, id: n.targetId },
    subject: n.subject,
    subjectZh: n.subjectZh,
    details: n.details,
  });
}

export interface WebhookRequest {
  readonly url: string;
  readonly secret: string;
  readonly kind: string;
  readonly deliveryId: string;
  readonly body: string;
  readonly now: Date;
  readonly timeoutMs: number;
}

/** POSTs a signed delivery; 2xx is delivered, anything else (a redirect too) is a failure to retry. */
export async function postWebhook(r: WebhookRequest): Promise<SendResult> {
  const timestamp = String(Math.floor(r.now.getTime() / 1000));
  try {
    const response = await fetch(r.url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(r.timeoutMs),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'govshare-webhook/1',
        'x-govshare-event': r.kind,
        'x-govshare-delivery': r.deliveryId,
        'x-govshare-timestamp': timestamp,
        'x-govshare-signature': webhookSignature(r.secret, timestamp, r.body),
      },
      body: r.body,
    });
    const text = await readSome(response);
    if (response.status >= 200 && response.status < 300) return { ok: true, httpStatus: response.status };
    return { ok: false, httpStatus: response.status, error: clip(`HTTP ${response.status}${text ? `: ${text}` : ''}`) };
  } catch (e) {
    if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) return { ok: false, error: `no answer within ${r.timeoutMs} ms` };
    return { ok: false, error: describeError(e) };
  }
}

/** The start of a response body (for the attempt record), without reading a huge one whole. */
async function readSome(response: Response): Promise<string> {
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < MAX_TEXT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, 300).trim();
}
