/**
 * The server answers index.html with a fresh nonce in `<meta name="csp-nonce">` and a
 * Content-Security-Policy that allows only style elements carrying it (no 'unsafe-inline').
 * antd's CSS-in-JS is given the nonce (ConfigProvider csp), but a few of its helpers add style
 * elements of their own without it (a selector-support probe, the scroll-bar measure, the scroll
 * lock). So every style element the console's own scripts create gets the nonce here. Scripts only
 * come from this origin, so this trusts nothing the policy does not already trust; style markup
 * injected into the page stays blocked.
 *
 * Imported first by main.tsx, before antd, so that no style element is made without it.
 */
export const cspNonce: string | undefined = document.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content || undefined;

if (cspNonce) {
  const create = document.createElement.bind(document);
  document.createElement = ((tagName: string, options?: ElementCreationOptions) => {
    const element = create(tagName, options);
    if (element instanceof HTMLStyleElement) element.nonce = cspNonce;
    return element;
  }) as typeof document.createElement;
}
