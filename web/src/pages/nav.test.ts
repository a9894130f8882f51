import { describe, expect, it } from 'vitest';
// The server's source as text: the console's type check does not compile server code.
import serverSource from '../../../src/server/console-static.ts?raw';
import { CATALOGS } from '../i18n/i18n';
import { NAV } from './nav';

describe('console navigation', () => {
  const consolePages = (): string[] => {
    const m = /export const CONSOLE_PAGES = \[([^\]]*)\]/.exec(serverSource);
    if (!m) throw new Error('CONSOLE_PAGES not found in src/server/console-static.ts');
    return [...m[1]!.matchAll(/'([^']+)'/g)].map((x) => x[1]!);
  };

  it('every page of the navigation is a path the server answers with the console, with a label in both languages', () => {
    for (const item of NAV) {
      const first = item.path.split('/')[1] ?? '';
      expect(consolePages(), item.path).toContain(first);
      expect(CATALOGS['zh-CN'][item.label], item.label).toBeTruthy();
      expect(CATALOGS.en[item.label], item.label).toBeTruthy();
    }
    expect(new Set(NAV.map((n) => n.key)).size).toBe(NAV.length);
  });
});
