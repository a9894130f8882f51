import { ApiError } from './api';
import { formatDateTime, translate, type Language } from './i18n/i18n';

/**
 * The API's error codes the console explains in its own words (docs/errors.md). Every other code
 * shows the API's own message in the chosen language (it sends both), then the code itself.
 */
const EXPLAINED: Readonly<Record<string, string>> = {
  GS_ERR_AUTH_INVALID_CREDENTIALS: 'error.invalidCredentials',
  GS_ERR_AUTH_TOTP_REQUIRED: 'error.totpRequired',
  GS_ERR_AUTH_TOTP_INVALID: 'error.totpInvalid',
  GS_ERR_AUTH_LOCKED: 'error.locked',
  GS_ERR_AUTH_ACCOUNT_INACTIVE: 'error.inactive',
  GS_ERR_AUTH_RATE_LIMITED: 'error.rateLimited',
  GS_ERR_AUTH_REQUIRED: 'error.loginRequired',
  GS_ERR_AUTH_FORBIDDEN: 'error.forbidden',
  GS_ERR_AUTH_PASSWORD_RULE: 'error.passwordRule',
  GS_ERR_AUTH_PASSWORD_REUSED: 'error.passwordReused',
  GS_ERR_AUTH_SETUP_REQUIRED: 'error.setupRequired',
};

/** What the session-expired reasons the API gives mean to the person. */
const SESSION_END_REASONS: Readonly<Record<string, string>> = {
  'idle timeout': 'error.sessionIdle',
  'absolute timeout': 'error.sessionAbsolute',
};

function detail(e: ApiError, name: string): string | undefined {
  const v = e.body.details?.[name];
  return typeof v === 'string' || typeof v === 'number' ? String(v) : undefined;
}

/** One sentence for the person: what happened and, where there is one, what to do. */
export function errorMessage(lang: Language, e: unknown): string {
  if (!(e instanceof ApiError)) return translate(lang, 'error.network');
  if (e.code === 'GS_ERR_AUTH_SESSION_EXPIRED') {
    const reason = detail(e, 'reason') ?? '';
    return translate(lang, SESSION_END_REASONS[reason] ?? 'error.sessionEnded');
  }
  if (e.code === 'GS_ERR_AUTH_LOCKED') {
    const until = detail(e, 'until');
    return translate(lang, 'error.locked', { attempts: detail(e, 'attempts') ?? '5', until: until ? formatDateTime(lang, until) : '—' });
  }
  const key = EXPLAINED[e.code];
  if (key) {
    const params: Record<string, string> = {};
    for (const [k, v] of Object.entries(e.body.details ?? {})) if (typeof v === 'string' || typeof v === 'number') params[k] = String(v);
    return translate(lang, key, params);
  }
  const own = lang === 'zh-CN' ? (e.body.messageZh ?? e.body.message) : e.body.message;
  return `${own} (${e.code})`;
}
