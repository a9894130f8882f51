import { useEffect, useState } from 'react';

/**
 * A router of two functions: paths are real URLs (the server answers index.html for them), moved
 * between with the History API. The console has few pages; a routing library would outweigh them.
 */
export interface Location {
  readonly path: string;
  readonly query: URLSearchParams;
}

const EVENT = 'gs:navigate';

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export function navigate(to: string, opts: { replace?: boolean } = {}): void {
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(EVENT));
}

export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const update = () => setLoc(current());
    window.addEventListener('popstate', update);
    window.addEventListener(EVENT, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(EVENT, update);
    };
  }, []);
  return loc;
}
